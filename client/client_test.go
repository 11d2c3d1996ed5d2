package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/Khan/genqlient/graphql"
	"github.com/frsvc/fulfillment/client"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// fake serves /query with a canned answer and records the last request.
type fake struct {
	status int
	body   string
	got    *http.Request
	op     struct {
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}
}

func (f *fake) serve(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.got = r.Clone(context.Background())
		if err := json.NewDecoder(r.Body).Decode(&f.op); err != nil {
			t.Errorf("request body: %v", err)
		}
		w.Header().Set("Content-Type", "application/graphql-response+json")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(f.body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestNew checks the request the client makes, with no server behind it
// but a stand-in: the /query endpoint, the key, the Accept header, an
// Idempotency-Key from the context, and nil optional variables left out.
func TestNew(t *testing.T) {
	f := &fake{status: http.StatusOK, body: `{"data":{"voidFulfillmentRequest":{"id":"7","status":"VOIDED"}}}`}
	url := f.serve(t)
	for _, base := range []string{url, url + "/", url + "/query"} {
		c := client.New(base, "secret")
		ctx := client.WithIdempotencyKey(context.Background(), "void-7")
		res, err := client.VoidFulfillmentRequest(ctx, c, "7", "customer called")
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		if res.VoidFulfillmentRequest.Status != client.FulfillmentRequestStatusVoided {
			t.Errorf("%s: answer %+v", base, res)
		}
		if f.got.URL.Path != "/query" || f.got.Header.Get("Authorization") != "Bearer secret" ||
			f.got.Header.Get("Accept") != client.Accept || f.got.Header.Get(client.IdempotencyKeyHeader) != "void-7" {
			t.Errorf("%s: request %s %v", base, f.got.URL.Path, f.got.Header)
		}
		if f.op.OperationName != "VoidFulfillmentRequest" || f.op.Variables["reason"] != "customer called" {
			t.Errorf("%s: operation %+v", base, f.op)
		}
	}

	f.body = `{"data":{"orders":{"totalCount":0,"pageInfo":{"hasNextPage":false,"hasPreviousPage":false},"edges":[]}}}`
	if _, err := client.ListOrders(context.Background(), client.New(url, "k"), nil, nil, nil, new(int), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.op.Variables["first"]; ok || f.op.Variables["last"] != float64(0) {
		t.Errorf("variables of ListOrders(last: 0): %v", f.op.Variables)
	}
	if f.got.Header.Get(client.IdempotencyKeyHeader) != "" {
		t.Errorf("an Idempotency-Key without one in the context: %v", f.got.Header)
	}
}

// TestError checks that an operation's error is an *Error with the code,
// message, field and path of the service's first error, for a field error
// (200), a request error (400) and an answer that is not GraphQL (502);
// that errors.As still finds genqlient's own error types; and that the
// message is the service's words, not the raw answer.
func TestError(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, body string
		status     int
		want       client.Error
		text       string
	}{{
		name:   "field error",
		status: http.StatusOK,
		body: `{"data":null,"errors":[{"message":"cannot move from ACKNOWLEDGED to VOIDED","path":["voidFulfillmentRequest"],` +
			`"extensions":{"code":"INVALID_TRANSITION","from":"ACKNOWLEDGED","to":"VOIDED"}},{"message":"another"}]}`,
		want: client.Error{Code: "INVALID_TRANSITION", Message: "cannot move from ACKNOWLEDGED to VOIDED", Path: "voidFulfillmentRequest", StatusCode: 200},
		text: "INVALID_TRANSITION: cannot move from ACKNOWLEDGED to VOIDED (at voidFulfillmentRequest) (and 1 more)",
	}, {
		name:   "request error",
		status: http.StatusBadRequest,
		body:   `{"errors":[{"message":"must not be empty","extensions":{"code":"VALIDATION","field":"reason"}}]}`,
		want:   client.Error{Code: "VALIDATION", Message: "must not be empty", Field: "reason", StatusCode: 400},
		text:   "VALIDATION: must not be empty (field reason)",
	}, {
		name:   "not GraphQL",
		status: http.StatusBadGateway,
		body:   `bad gateway`,
		want:   client.Error{Message: "bad gateway", StatusCode: 502},
		text:   "HTTP 502: bad gateway",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{status: tc.status, body: tc.body}
			_, err := client.VoidFulfillmentRequest(ctx, client.New(f.serve(t), "k"), "7", "x")
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("%T %v is not a *client.Error", err, err)
			}
			if e.Code != tc.want.Code || e.Message != tc.want.Message || e.Field != tc.want.Field || e.Path != tc.want.Path || e.StatusCode != tc.want.StatusCode {
				t.Errorf("error %+v, want %+v", e, tc.want)
			}
			if err.Error() != tc.text {
				t.Errorf("text %q, want %q", err.Error(), tc.text)
			}
			if client.ErrorCode(err) != tc.want.Code || client.AsError(err) != e {
				t.Errorf("ErrorCode %q, AsError %v", client.ErrorCode(err), client.AsError(err))
			}
			var list gqlerror.List
			if !errors.As(err, &list) || len(list) == 0 || list[0].Message != tc.want.Message {
				t.Errorf("errors.As gqlerror.List: %v", list)
			}
			var httpErr *graphql.HTTPError
			if errors.As(err, &httpErr) != (tc.status != http.StatusOK) {
				t.Errorf("errors.As *graphql.HTTPError: %v", httpErr)
			}
		})
	}
	if e := client.AsError(errors.New("dial tcp: connection refused")); e != nil {
		t.Errorf("a network error: %v", e)
	}
}
