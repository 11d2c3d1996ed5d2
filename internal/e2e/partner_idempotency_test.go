package e2e

import (
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestPartnerIdempotencyKeys checks that the Idempotency-Key store does not
// carry answers from one API key to another: a partner that sends an
// operator's request again, under the operator's Idempotency-Key, must not
// be handed the operator's answer (here: a new ADMIN key's secret).
func TestPartnerIdempotencyKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		s := a.Store
		w := newPartnerWorld(t, a)
		const q = `mutation { createApiKey(input: {name: "ops", role: ADMIN}) { secret apiKey { role } } }`
		first := w.Do(Request{Key: w.AdminKey, Query: q, Header: map[string]string{"Idempotency-Key": "ops-key-1"}})
		if len(first.Errors) > 0 {
			t.Fatalf("errors %+v", first.Errors)
		}
		var made struct{ CreateApiKey struct{ Secret string } }
		first.Decode(t, &made)
		if made.CreateApiKey.Secret == "" {
			t.Fatalf("no secret: %s", first.Data)
		}
		before := Fingerprint(t, s)
		again := w.Do(Request{Key: w.keyA, Query: q, Header: map[string]string{"Idempotency-Key": "ops-key-1"}})
		if strings.Contains(string(again.Raw), made.CreateApiKey.Secret) {
			t.Errorf("partner A was handed the ADMIN key's secret by replaying the operator's Idempotency-Key: %s", again.Raw)
		}
		if len(again.Errors) == 0 {
			t.Errorf("partner A's createApiKey was answered without an error: %s", again.Raw)
		}
		for _, e := range again.Errors {
			if e.Code() != "FORBIDDEN" && e.Code() != "IDEMPOTENCY_KEY_REUSED" {
				t.Errorf("error %s %q", e.Code(), e.Message)
			}
		}
		if Fingerprint(t, s) != before {
			t.Errorf("partner A's replay wrote something")
		}
	})
}
