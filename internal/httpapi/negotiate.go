package httpapi

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/gqlhttp"
	"github.com/frsvc/fulfillment/internal/idempotency"
)

// negotiate picks the response media type of a /query request from its
// Accept header before anything else runs (gqlhttp.Negotiate): a request
// that accepts neither application/graphql-response+json nor
// application/json is answered 406 at once. The guards behind it answer in
// the GraphQL error format with Content-Type application/json; negotiate
// gives those answers the negotiated type, as the GraphQL transport does its
// own.
func negotiate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		gqlhttp.AddVary(w.Header(), "Accept")
		mt, ok := gqlhttp.Negotiate(r.Header.Get("Accept"))
		if !ok {
			errorBody(w, http.StatusNotAcceptable, apperr.Validation,
				"the Accept header allows neither "+gqlhttp.MediaTypeGraphQLResponse+" nor "+gqlhttp.MediaTypeJSON, nil)
			return
		}
		tw := &typedWriter{ResponseWriter: w, mediaType: mt}
		next.ServeHTTP(tw, r)
		tw.finish()
	})
}

// typedWriter sets the negotiated Content-Type on a JSON answer. It holds
// back an answer replayed for an Idempotency-Key, whose status was chosen
// for the first request's media type, until its body shows whether the
// status suits this one.
type typedWriter struct {
	http.ResponseWriter
	mediaType   string
	wroteHeader bool
	// held is a replayed answer's status and body, not written yet.
	held   int
	buffer bytes.Buffer
}

func (t *typedWriter) WriteHeader(code int) {
	if t.wroteHeader || t.held != 0 {
		return
	}
	h := t.Header()
	if ct := h.Get("Content-Type"); ct == "" || isGraphQLJSON(ct) {
		h.Set("Content-Type", gqlhttp.ContentType(t.mediaType))
	}
	if h.Get(idempotency.ReplayedHeader) != "" {
		t.held = code
		return
	}
	t.wroteHeader = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *typedWriter) Write(b []byte) (int, error) {
	if !t.wroteHeader && t.held == 0 {
		t.WriteHeader(http.StatusOK)
	}
	if t.held != 0 {
		return t.buffer.Write(b)
	}
	return t.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer.
func (t *typedWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// finish writes a held replay. Under application/graphql-response+json an
// answer without data must not be 2xx (a request error recorded under
// application/json was 200); it gets the status of its errors instead.
func (t *typedWriter) finish() {
	if t.held == 0 {
		return
	}
	status := t.held
	var body map[string]json.RawMessage
	if t.mediaType == gqlhttp.MediaTypeGraphQLResponse && status < 300 && json.Unmarshal(t.buffer.Bytes(), &body) == nil {
		var errs gqlerror.List
		if _, hasData := body["data"]; !hasData && json.Unmarshal(body["errors"], &errs) == nil && len(errs) > 0 {
			status = gqlhttp.RequestErrorStatus(t.mediaType, errs)
		}
	}
	t.wroteHeader = true
	t.ResponseWriter.WriteHeader(status)
	_, _ = t.ResponseWriter.Write(t.buffer.Bytes())
}

func isGraphQLJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == gqlhttp.MediaTypeJSON || mt == gqlhttp.MediaTypeGraphQLResponse)
}
