package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/frsvc/fulfillment/client"
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
