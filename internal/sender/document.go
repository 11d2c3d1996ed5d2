package sender

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/address"
)

// Document is what a source receives for one fulfillment request.
type Document struct {
	Type            string          `json:"type"` // "fulfillment_request" or "cancellation"
	ID              int             `json:"id"`
	Number          string          `json:"number"`
	OrderNumber     string          `json:"orderNumber"`
	ReferenceNumber string          `json:"referenceNumber,omitempty"`
	Channel         string          `json:"channel"`
	Source          string          `json:"source"`
	ShipTo          address.Address `json:"shipTo"`
	Items           []DocumentItem  `json:"items"`
	ItemCost        string          `json:"itemCost"`
	DropshipFee     string          `json:"dropshipFee"`
	ShippingCost    string          `json:"shippingCost"`
	TotalCost       string          `json:"totalCost"`
	CreatedAt       time.Time       `json:"createdAt"`
	Reason          string          `json:"reason,omitempty"`
}

// DocumentItem is one item of a Document.
type DocumentItem struct {
	ID       int    `json:"id"`
	SKU      string `json:"sku"`
	Title    string `json:"title,omitempty"`
	Quantity int    `json:"quantity"`
	UnitCost string `json:"unitCost"`
}

// newDocument describes fr, loaded with its order, source and items (items
// with their order lines).
func newDocument(fr *ent.FulfillmentRequest, cancellation bool) Document {
	o, src := fr.Edges.Order, fr.Edges.Source
	d := Document{
		Type: "fulfillment_request", ID: fr.ID, Number: fr.Number,
		OrderNumber: o.OrderNumber, ReferenceNumber: o.ReferenceNumber, Channel: o.Channel,
		Source: src.Code, ShipTo: o.ShipTo,
		ItemCost: fr.ItemCost.String(), DropshipFee: fr.DropshipFee.String(),
		ShippingCost: fr.ShippingCost.String(), TotalCost: fr.TotalCost.String(),
		CreatedAt: fr.CreatedAt.UTC(),
	}
	if cancellation {
		d.Type = "cancellation"
		if fr.VoidReason != nil {
			d.Reason = *fr.VoidReason
		}
	}
	for _, it := range fr.Edges.Items {
		di := DocumentItem{ID: it.ID, SKU: it.Sku, Quantity: it.Quantity, UnitCost: it.UnitCost.String()}
		if it.Edges.OrderLine != nil {
			di.Title = it.Edges.OrderLine.Title
		}
		d.Items = append(d.Items, di)
	}
	return d
}

// JSON encodes the document.
func (d Document) JSON() []byte {
	b, _ := json.Marshal(d)
	return b
}

// CSV encodes the document as one row per item with the request's fields
// repeated, the shape most warehouse import tools take.
func (d Document) CSV() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"type", "number", "order_number", "reference_number", "channel", "source",
		"ship_name", "ship_line1", "ship_line2", "ship_city", "ship_region", "ship_postal_code", "ship_country",
		"item_id", "sku", "title", "quantity", "unit_cost", "total_cost", "reason"})
	for _, it := range d.Items {
		a := d.ShipTo
		_ = w.Write([]string{d.Type, d.Number, d.OrderNumber, d.ReferenceNumber, d.Channel, d.Source,
			a.Name, a.Line1, a.Line2, a.City, a.Region, a.PostalCode, a.Country,
			strconv.Itoa(it.ID), it.SKU, it.Title, strconv.Itoa(it.Quantity), it.UnitCost, d.TotalCost, d.Reason})
	}
	w.Flush()
	return buf.Bytes()
}

// Sign returns the Fulfillment-Signature header value for body.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a Fulfillment-Signature header in constant time; sources
// (and the tests) use it on the receiving side.
func Verify(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}
