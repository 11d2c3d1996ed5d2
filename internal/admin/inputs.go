package admin

import (
	"github.com/frsvc/fulfillment/ent/apikey"
	"github.com/frsvc/fulfillment/ent/source"
	"github.com/frsvc/fulfillment/internal/money"
)

// The inputs below are bound directly to the GraphQL input types of the same
// names (see gqlgen.yml), so resolvers pass them through unchanged.

// StrategyInput sets number-strategy fields; nil fields are unset.
type StrategyInput struct {
	NumberTemplate  *string
	MaxNumberLength *int
	AutoProcess     *bool
}

// ConnectorInput describes how requests reach a source.
type ConnectorInput struct {
	Kind           source.ConnectorKind
	URL            *string
	Secret         *string
	TimeoutSeconds *int
	Directory      *string
	Format         *source.ConnectorFormat
	MaxAttempts    *int
}

// CreateSourceInput is createSource's input.
type CreateSourceInput struct {
	Name                string
	Code                string
	Enabled             *bool
	DropshipFee         *money.Amount
	ShippingBaseCost    *money.Amount
	ShippingPerUnitCost *money.Amount
	ShipsTo             []string
	CommitStock         *bool
	Strategy            *StrategyInput
	Connector           *ConnectorInput
}

// UpdateSourceInput is updateSource's input: nil fields are left alone.
type UpdateSourceInput struct {
	Name                *string
	Code                *string
	Enabled             *bool
	DropshipFee         *money.Amount
	ShippingBaseCost    *money.Amount
	ShippingPerUnitCost *money.Amount
	ShipsTo             []string
	CommitStock         *bool
	Strategy            *StrategyInput
	Connector           *ConnectorInput
}

// InventoryInput is one SKU of upsertInventory.
type InventoryInput struct {
	Sku      string
	Quantity int
	UnitCost money.Amount
}

// RoutingGroupMemberInput puts a source in a group.
type RoutingGroupMemberInput struct {
	SourceID int
	Priority int
	Eligible *bool
}

// CreateRoutingGroupInput is createRoutingGroup's input.
type CreateRoutingGroupInput struct {
	Name            string
	Position        *int
	IsDefault       *bool
	ShipToCountries []string
	Rules           []RoutingRule
	AllowLineSplit  *bool
	Members         []*RoutingGroupMemberInput
}

// UpdateRoutingGroupInput is updateRoutingGroup's input: nil fields are left
// alone; Members, when given, replace the old ones.
type UpdateRoutingGroupInput struct {
	Name            *string
	Position        *int
	IsDefault       *bool
	ShipToCountries []string
	Rules           []RoutingRule
	AllowLineSplit  *bool
	Members         []*RoutingGroupMemberInput
}

// CreateAPIKeyInput is createApiKey's input.
type CreateAPIKeyInput struct {
	Name     string
	Role     apikey.Role
	SourceID *int
}
