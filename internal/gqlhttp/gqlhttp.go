// Package gqlhttp serves GraphQL over HTTP as the GraphQL-over-HTTP
// specification (graphql.github.io/graphql-over-http) asks: POST with an
// application/json body and GET for queries; responses in
// application/graphql-response+json or application/json, negotiated from the
// Accept header (406 when neither is acceptable).
//
// The status codes depend on the media type of the answer:
//
//   - application/graphql-response+json: 200 when the operation ran, even
//     with field errors; a request error (the document does not parse or
//     validate, the operation cannot be determined, a variable cannot be
//     coerced, a limit is exceeded) leaves data out and answers 400, or the
//     status of its code (401 UNAUTHENTICATED, 403 FORBIDDEN, 429
//     RATE_LIMITED, 500 INTERNAL).
//   - application/json (the legacy type, and the default when Accept is
//     missing or a wildcard): 200 for every well-formed request, request
//     errors included.
//
// Under both, a request that is not well-formed (a body that is not a JSON
// object, no query, a query, operationName, variables or extensions of the
// wrong type) answers 400, a POST body that is not UTF-8 application/json
// 415, and a mutation over GET 405.
package gqlhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/frsvc/fulfillment/internal/apperr"
)

// The response media types.
const (
	// MediaTypeGraphQLResponse is the GraphQL response media type.
	MediaTypeGraphQLResponse = "application/graphql-response+json"
	// MediaTypeJSON is the legacy one.
	MediaTypeJSON = "application/json"
)

// DefaultMediaType answers a request without an Accept header, or one that
// accepts any type equally. The specification's legacy default: clients that
// predate application/graphql-response+json keep their 200s.
const DefaultMediaType = MediaTypeJSON

// ContentType is the Content-Type header of an answer in mediaType.
func ContentType(mediaType string) string { return mediaType + "; charset=utf-8" }

// Negotiate picks the response media type for an Accept header: of the two
// types, the one with the highest quality; on a tie the one named exactly
// rather than through a wildcard, then the one listed first, then
// DefaultMediaType. It reports false when the header accepts neither (the
// request is then answered 406 Not Acceptable).
func Negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return DefaultMediaType, true
	}
	type score struct {
		q        float64
		specific int // 2: exact, 1: application/*, 0: */*
		pos      int
		set      bool
	}
	var scores [2]score // MediaTypeGraphQLResponse, MediaTypeJSON
	candidates := [2]string{MediaTypeGraphQLResponse, MediaTypeJSON}
	for pos, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		if cs, ok := params["charset"]; ok && !isUTF8(cs) {
			continue // we answer in UTF-8 only
		}
		for i, c := range candidates {
			specific := -1
			switch mt {
			case c:
				specific = 2
			case "application/*":
				specific = 1
			case "*/*":
				specific = 0
			}
			// The most specific range naming a type sets its quality.
			if specific < 0 || (scores[i].set && specific < scores[i].specific) {
				continue
			}
			if scores[i].set && specific == scores[i].specific && q <= scores[i].q {
				continue
			}
			scores[i] = score{q: q, specific: specific, pos: pos, set: true}
		}
	}
	best := -1
	for i, s := range scores {
		if !s.set || s.q == 0 {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := scores[best]
		switch {
		case s.q != b.q:
			if s.q > b.q {
				best = i
			}
		case s.specific != b.specific:
			if s.specific > b.specific {
				best = i
			}
		case s.pos != b.pos:
			if s.pos < b.pos {
				best = i
			}
		case candidates[i] == DefaultMediaType:
			best = i
		}
	}
	if best < 0 {
		return "", false
	}
	return candidates[best], true
}

func isUTF8(charset string) bool {
	return strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "utf8")
}

// RequestErrorStatus is the status of an answer that carries no data (a
// request error) under mediaType: under application/json 200, under
// application/graphql-response+json the status of the first error's code,
// 400 unless the code says otherwise.
func RequestErrorStatus(mediaType string, errs gqlerror.List) int {
	if mediaType != MediaTypeGraphQLResponse {
		return http.StatusOK
	}
	for _, e := range errs {
		code, _ := e.Extensions["code"].(string)
		switch apperr.Code(code) {
		case apperr.Unauthenticated:
			return http.StatusUnauthorized
		case apperr.Forbidden:
			return http.StatusForbidden
		case apperr.RateLimited:
			return http.StatusTooManyRequests
		case apperr.Internal:
			return http.StatusInternalServerError
		}
	}
	return http.StatusBadRequest
}

// Transport is the GET and POST transport (a gqlgen graphql.Transport).
type Transport struct {
	// TokenLimit bounds the tokens of a GET query parsed to tell a mutation
	// (0: no limit); the executor applies its own limit to every request.
	TokenLimit int
}

var _ graphql.Transport = Transport{}

// Supports takes GET and POST requests that are not websocket upgrades.
func (Transport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

// Do answers one request.
func (t Transport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	mediaType, ok := Negotiate(r.Header.Get("Accept"))
	if !ok {
		fail(ctx, w, exec, MediaTypeJSON, http.StatusNotAcceptable,
			"the Accept header allows neither "+MediaTypeGraphQLResponse+" nor "+MediaTypeJSON)
		return
	}
	AddVary(w.Header(), "Accept")
	start := graphql.Now()
	var params *graphql.RawParams
	var bad *badRequest
	if r.Method == http.MethodGet {
		var doc *ast.QueryDocument
		params, doc, bad = t.getParams(r)
		if doc != nil {
			ctx = WithParsedDocument(ctx, params.Query, doc)
		}
	} else {
		params, bad = postParams(r)
	}
	if bad != nil {
		if bad.allow != "" {
			w.Header().Set("Allow", bad.allow)
		}
		fail(ctx, w, exec, mediaType, bad.status, bad.msg)
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if len(errs) > 0 {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		write(w, mediaType, RequestErrorStatus(mediaType, resp.Errors), requestError(resp))
		return
	}
	if r.Method == http.MethodGet && opCtx.Operation.Operation != ast.Query {
		// A safety net: getParams refuses mutations before this point.
		w.Header().Set("Allow", http.MethodPost)
		fail(ctx, w, exec, mediaType, http.StatusMethodNotAllowed, mutationOverGET)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, opCtx)
	resp := responses(ctx)
	if resp == nil {
		// The request's context ended before the operation ran.
		resp = exec.DispatchError(ctx, errorList(apperr.Internal, "the request took too long and was stopped"))
		write(w, mediaType, RequestErrorStatus(mediaType, resp.Errors), requestError(resp))
		return
	}
	// The operation ran: data is present (null at worst), and the answer is
	// 200 under both media types.
	b, err := encodeResponse(resp)
	if err != nil {
		writeBytes(w, mediaType, http.StatusInternalServerError, internalErrorBody)
		return
	}
	writeBytes(w, mediaType, http.StatusOK, b)
}

// encodeResponse is json.Marshal(resp) but for data, which gqlgen has
// already written as JSON and which is copied as it is: json.Marshal would
// scan and copy the whole of it once more to check and compact it (and
// escape <, > and & in its strings, which JSON does not need). A nested page
// is most of the answer.
func encodeResponse(resp *graphql.Response) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(resp.Data) + 256)
	b.WriteByte('{')
	field := func(name string, v any) error {
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.WriteString(`,"` + name + `":`)
		b.Write(j)
		return nil
	}
	if len(resp.Errors) > 0 {
		j, err := json.Marshal(resp.Errors)
		if err != nil {
			return nil, err
		}
		b.WriteString(`"errors":`)
		b.Write(j)
		b.WriteByte(',')
	}
	b.WriteString(`"data":`)
	if len(resp.Data) == 0 {
		b.WriteString("null")
	} else {
		b.Write(resp.Data)
	}
	var err error
	if resp.Label != "" {
		err = errors.Join(err, field("label", resp.Label))
	}
	if len(resp.Path) > 0 {
		err = errors.Join(err, field("path", resp.Path))
	}
	if resp.HasNext != nil {
		err = errors.Join(err, field("hasNext", *resp.HasNext))
	}
	if len(resp.Extensions) > 0 {
		err = errors.Join(err, field("extensions", resp.Extensions))
	}
	b.WriteByte('}')
	return b.Bytes(), err
}

const mutationOverGET = "GET runs queries only: send mutations with POST"

// badRequest is a request that is not a well-formed GraphQL-over-HTTP
// request, or one the method or media type refuses.
type badRequest struct {
	status int
	msg    string
	allow  string
}

func invalid(msg string) *badRequest { return &badRequest{status: http.StatusBadRequest, msg: msg} }

// getParams reads the parameters of a GET request from its URL and refuses
// a mutation before anything runs. It returns the document it parsed to
// tell (nil when it does not parse), for the request's other readers
// (WithParsedDocument).
func (t Transport) getParams(r *http.Request) (*graphql.RawParams, *ast.QueryDocument, *badRequest) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, invalid("the URL's query string could not be parsed")
	}
	if !q.Has("query") {
		return nil, nil, invalid("the request has no query parameter")
	}
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	if v := q.Get("variables"); v != "" {
		if p.Variables, err = object(json.RawMessage(v)); err != nil {
			return nil, nil, invalid("the variables parameter must be a JSON object")
		}
	}
	if v := q.Get("extensions"); v != "" {
		if p.Extensions, err = object(json.RawMessage(v)); err != nil {
			return nil, nil, invalid("the extensions parameter must be a JSON object")
		}
	}
	// A document that parses tells its operation's type; one that does not
	// is a request error for the executor to report.
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, t.TokenLimit)
	if err != nil {
		return p, nil, nil
	}
	if op := doc.Operations.ForName(p.OperationName); op != nil && op.Operation != ast.Query {
		return nil, nil, &badRequest{status: http.StatusMethodNotAllowed, msg: mutationOverGET, allow: http.MethodPost}
	}
	return p, doc, nil
}

type parsedKey struct{}

// parsedDocument is a document parsed from query.
type parsedDocument struct {
	query string
	doc   *ast.QueryDocument
}

// WithParsedDocument returns ctx carrying doc, the document parsed from
// query under the transport's token limit and not validated, for the
// request's later readers (ParsedDocument), so that none parses it again.
func WithParsedDocument(ctx context.Context, query string, doc *ast.QueryDocument) context.Context {
	return context.WithValue(ctx, parsedKey{}, parsedDocument{query: query, doc: doc})
}

// ParsedDocument is the document of WithParsedDocument when it was parsed
// from query (nil otherwise): parsed, not validated.
func ParsedDocument(ctx context.Context, query string) *ast.QueryDocument {
	if p, ok := ctx.Value(parsedKey{}).(parsedDocument); ok && p.query == query {
		return p.doc
	}
	return nil
}

// postParams reads the parameters of a POST request from its JSON body.
func postParams(r *http.Request) (*graphql.RawParams, *badRequest) {
	mt, ctParams, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != MediaTypeJSON {
		return nil, &badRequest{status: http.StatusUnsupportedMediaType, msg: "POST bodies must be application/json"}
	}
	if cs, ok := ctParams["charset"]; ok && !isUTF8(cs) {
		return nil, &badRequest{status: http.StatusUnsupportedMediaType, msg: "POST bodies must be encoded in UTF-8"}
	}
	if r.Body == nil {
		return nil, invalid("the request body is empty")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, invalid("the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("the request body is empty")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, invalid("the request body must be a JSON object")
	}
	p := &graphql.RawParams{}
	query, ok := fields["query"]
	if !ok || isNull(query) {
		return nil, invalid("the request has no query")
	}
	if json.Unmarshal(query, &p.Query) != nil {
		return nil, invalid("query must be a string")
	}
	if v, ok := fields["operationName"]; ok && !isNull(v) {
		if json.Unmarshal(v, &p.OperationName) != nil {
			return nil, invalid("operationName must be a string")
		}
	}
	if v, ok := fields["variables"]; ok {
		if p.Variables, err = object(v); err != nil {
			return nil, invalid("variables must be a JSON object")
		}
	}
	if v, ok := fields["extensions"]; ok {
		if p.Extensions, err = object(v); err != nil {
			return nil, invalid("extensions must be a JSON object")
		}
	}
	return p, nil
}

// object decodes a JSON object (nil for null), keeping numbers as
// json.Number as gqlgen's own transports do.
func object(raw json.RawMessage) (map[string]any, error) {
	if isNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotObject
	}
	return m, nil
}

var errNotObject = errors.New("not a JSON object")

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// fail answers a request refused before any GraphQL ran, in the GraphQL
// error format.
func fail(ctx context.Context, w http.ResponseWriter, exec graphql.GraphExecutor, mediaType string, status int, msg string) {
	resp := exec.DispatchError(ctx, errorList(apperr.Validation, msg))
	write(w, mediaType, status, requestError(resp))
}

// errorList is one error of the contract, for the error presenter to show.
func errorList(code apperr.Code, msg string) gqlerror.List {
	ae := &apperr.Error{Code: code, Message: msg}
	return gqlerror.List{{Message: msg, Err: ae, Extensions: map[string]any{"code": string(code)}}}
}

// requestErrorBody is a GraphQL response without data: what a request error
// answers (the GraphQL specification leaves data out when execution did not
// start).
type requestErrorBody struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

func requestError(resp *graphql.Response) requestErrorBody {
	return requestErrorBody{Errors: resp.Errors, Extensions: resp.Extensions}
}

func write(w http.ResponseWriter, mediaType string, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, internalErrorBody
	}
	writeBytes(w, mediaType, status, b)
}

// internalErrorBody answers a response that could not be encoded.
var internalErrorBody = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)

func writeBytes(w http.ResponseWriter, mediaType string, status int, b []byte) {
	w.Header().Set("Content-Type", ContentType(mediaType))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// AddVary adds value to the Vary header of h unless it is there already.
func AddVary(h http.Header, value string) {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), value) {
				return
			}
		}
	}
	h.Add("Vary", value)
}
