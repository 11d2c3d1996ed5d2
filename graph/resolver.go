// Package graph is the GraphQL transport: resolvers that map an input to one
// call into internal/ and map the answer back, the error presenter, and the
// handler that wires gqlgen's server with explicit transports.
package graph

import (
	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/orders"
)

// Resolver holds the dependencies of every resolver. Tests and main build
// it the same way, through New.
type Resolver struct {
	Client *ent.Client
	Admin  *admin.Service
	Orders *orders.Service
}

// New returns a resolver over one ent client.
func New(client *ent.Client) *Resolver {
	return &Resolver{
		Client: client,
		Admin:  &admin.Service{Client: client},
		Orders: &orders.Service{Client: client},
	}
}
