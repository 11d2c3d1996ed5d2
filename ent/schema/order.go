package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/frsvc/fulfillment/internal/address"
	"github.com/frsvc/fulfillment/internal/money"
)

// Order is an imported e-commerce order. allocation_status and
// shipment_status are derived from the lines' ledgers and stored so that
// they can be filtered and sorted on; the use cases keep them true.
type Order struct {
	ent.Schema
}

// Mixin of Order.
func (Order) Mixin() []ent.Mixin {
	return []ent.Mixin{TenantMixin{}, TimeMixin{UpdatedAt: []schema.Annotation{operatorOnlyField()}}}
}

// Fields of Order.
func (Order) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel").NotEmpty().Immutable().Annotations(entgql.OrderField("CHANNEL")),
		field.String("order_number").NotEmpty().Immutable().Annotations(entgql.OrderField("ORDER_NUMBER")),
		field.String("reference_number").Optional(),
		field.Enum("payment_status").Values("PAID", "DEFERRED", "PENDING").
			Annotations(entgql.Type("PaymentStatus"), operatorOnlyField()),
		field.Enum("status").Values("OPEN", "ON_HOLD", "CANCELED", "CLOSED").Default("OPEN").
			Annotations(entgql.OrderField("STATUS"), operatorOnlyField()),
		field.String("hold_reason").Optional().Nillable().Annotations(operatorOnlyField()),
		field.String("cancel_reason").Optional().Nillable().Comment("Why cancelOrder canceled the order.").
			Annotations(entgql.Skip(entgql.SkipWhereInput), operatorOnlyField()),
		field.Time("canceled_at").Optional().Nillable().Comment("When cancelOrder canceled the order.").
			Annotations(operatorOnlyField()),
		field.JSON("ship_to", address.Address{}).Annotations(entgql.Type("Address")),
		field.String("ship_to_country").MaxLen(2).Comment("Copy of ship_to.country for filtering.").
			Annotations(operatorOnlyField()),
		field.Time("ordered_at").Annotations(entgql.OrderField("ORDERED_AT")),
		field.Enum("allocation_status").Values("UNALLOCATED", "PARTIALLY_ALLOCATED", "ALLOCATED", "CANCELED").
			Default("UNALLOCATED").Annotations(operatorOnlyField()),
		field.Enum("shipment_status").Values("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELED").
			Default("UNSHIPPED").Annotations(entgql.Type("OrderShipmentStatus"), operatorOnlyField()),
		field.Int("fr_sequence").Default(0).Annotations(entgql.Skip()).
			Comment("How many fulfillment requests were ever made for the order: the {seq} token, never reused."),
	}
}

// Edges of Order.
func (Order) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("lines", OrderLine.Type).Annotations(operatorOnlyField()),
		// @operatorOnly last: gqlgen runs a field's directives from the last
		// to the first, and a role refused the field is told so whatever
		// its where.
		edge.To("fulfillment_requests", FulfillmentRequest.Type).
			Annotations(entgql.RelayConnection(), entgql.Directives(operatorRelationFilters(), operatorOnly())),
		edge.To("logs", FulfillmentLog.Type).
			Annotations(entgql.RelayConnection(), entgql.Directives(operatorRelationFilters(), operatorOnly())),
	}
}

// Indexes of Order.
func (Order) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "channel", "order_number").Unique(),
		index.Fields("account_id", "created_at"),
		index.Fields("account_id", "status"),
	}
}

// Annotations of Order.
func (Order) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField().Directives(rootConnection(operators...)...), entgql.RelayConnection()}
}

// OrderLine is one SKU of an order with its ledger:
// quantity = unallocated + allocated + shipped + killed, each ≥ 0, where
// allocated is the quantity in open (non-terminal, unshipped) requests.
type OrderLine struct {
	ent.Schema
}

// Mixin of OrderLine.
func (OrderLine) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of OrderLine.
func (OrderLine) Fields() []ent.Field {
	return []ent.Field{
		field.Int("order_id").Immutable(),
		field.Int("position").Immutable(),
		field.String("sku").NotEmpty().Immutable(),
		field.String("title").Optional(),
		// quantity changes only through updateOrder, with unallocated_quantity.
		field.Int("quantity").Positive(),
		// The merchant's price and the line's ledger, which tells of the
		// other sources' shares of it, are for operator keys only.
		field.Int64("unit_price").GoType(money.Amount(0)).Default(0).Immutable().
			Annotations(append(moneyAnnotations(nil), operatorOnlyField())...),
		field.Int("unallocated_quantity").NonNegative().Annotations(operatorOnlyField()),
		field.Int("allocated_quantity").NonNegative().Default(0).Annotations(operatorOnlyField()),
		field.Int("shipped_quantity").NonNegative().Default(0).Annotations(operatorOnlyField()),
		field.Int("killed_quantity").NonNegative().Default(0).Annotations(operatorOnlyField()),
	}
}

// Edges of OrderLine.
func (OrderLine) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("order", Order.Type).Ref("lines").Field("order_id").Unique().Required().Immutable(),
		edge.To("fulfillment_request_items", FulfillmentRequestItem.Type),
	}
}

// Indexes of OrderLine.
func (OrderLine) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("order_id", "position").Unique(),
		// An order's lines loaded for a page of orders: see
		// FulfillmentRequest's indexes.
		index.Fields("account_id", "order_id"),
	}
}

// Annotations of OrderLine. Its where input exists for
// Order.hasLinesWith (orders by SKU); lines are not a connection of their own.
func (OrderLine) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipOrderField)}
}
