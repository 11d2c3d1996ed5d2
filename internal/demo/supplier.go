package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// SupplierPath is where the demo process serves its demo supplier, the
// endpoint the demo's HTTP source (WEST-WH) posts its requests to.
const SupplierPath = "/demo/supplier"

// SupplierCode is the demo source whose connector posts to the demo supplier.
const SupplierCode = "WEST-WH"

// Supplier is the demo supplier: it acknowledges every fulfillment request
// with a confirmation number of its own (WEST- and the request's number), and
// takes every cancellation notice. It checks nothing, the signature
// included: it stands in for a partner's system so that the demo's send runs
// have somewhere to go, and is served only by a process started with --demo.
func Supplier() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "the demo supplier takes POST only", http.StatusMethodNotAllowed)
			return
		}
		var doc struct {
			Type   string `json:"type"`
			Number string `json:"number"`
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || json.Unmarshal(body, &doc) != nil || strings.TrimSpace(doc.Number) == "" {
			http.Error(w, "the demo supplier expects a fulfillment request document", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		answer := map[string]any{"acknowledged": true}
		if doc.Type != "cancellation" {
			answer["confirmationNumber"] = "WEST-" + doc.Number
		}
		_ = json.NewEncoder(w).Encode(answer)
	})
}
