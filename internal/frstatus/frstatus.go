// Package frstatus holds the fulfillment request status enums. It imports
// nothing of ours so that the ent schema, the use cases and the transport can
// all share the one Go type without an import cycle.
package frstatus

import (
	"fmt"
	"io"

	"github.com/99designs/gqlgen/graphql"
)

// Status is the life-cycle status of a fulfillment request.
type Status string

// The statuses of DOMAIN.md. CANCELED and VOIDED are terminal.
const (
	Unprocessed     Status = "UNPROCESSED"
	Processing      Status = "PROCESSING"
	Processed       Status = "PROCESSED"
	Acknowledged    Status = "ACKNOWLEDGED"
	Failed          Status = "FAILED"
	Canceled        Status = "CANCELED"
	Voided          Status = "VOIDED"
	NumberTooLong   Status = "NUMBER_TOO_LONG"
	DuplicateNumber Status = "DUPLICATE_NUMBER"
)

// All lists every status in a stable order.
var All = []Status{Unprocessed, Processing, Processed, Acknowledged, Failed, Canceled, Voided, NumberTooLong, DuplicateNumber}

// Values makes Status an ent enum (ent's EnumValues interface).
func (Status) Values() []string {
	out := make([]string, len(All))
	for i, s := range All {
		out[i] = string(s)
	}
	return out
}

// String returns the wire name.
func (s Status) String() string { return string(s) }

// Terminal reports whether no further transition can leave s.
func (s Status) Terminal() bool { return s == Canceled || s == Voided }

// ShipmentStatus tracks how much of a request has shipped.
type ShipmentStatus string

// The shipment statuses of DOMAIN.md.
const (
	AwaitingShipment ShipmentStatus = "AWAITING_SHIPMENT"
	PartiallyShipped ShipmentStatus = "PARTIALLY_SHIPPED"
	Shipped          ShipmentStatus = "SHIPPED"
	ShipmentCanceled ShipmentStatus = "CANCELED"
)

// Values makes ShipmentStatus an ent enum.
func (ShipmentStatus) Values() []string {
	return []string{string(AwaitingShipment), string(PartiallyShipped), string(Shipped), string(ShipmentCanceled)}
}

// String returns the wire name.
func (s ShipmentStatus) String() string { return string(s) }

// MarshalGQL writes the enum value for GraphQL.
func (s Status) MarshalGQL(w io.Writer) { graphql.MarshalString(string(s)).MarshalGQL(w) }

// UnmarshalGQL reads a GraphQL enum value.
func (s *Status) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("status must be a string, got %T", v)
	}
	for _, c := range All {
		if string(c) == str {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("%q is not a valid FulfillmentRequestStatus", str)
}

// MarshalGQL writes the enum value for GraphQL.
func (s ShipmentStatus) MarshalGQL(w io.Writer) { graphql.MarshalString(string(s)).MarshalGQL(w) }

// UnmarshalGQL reads a GraphQL enum value.
func (s *ShipmentStatus) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("shipment status must be a string, got %T", v)
	}
	for _, c := range ShipmentStatus("").Values() {
		if c == str {
			*s = ShipmentStatus(c)
			return nil
		}
	}
	return fmt.Errorf("%q is not a valid ShipmentStatus", str)
}
