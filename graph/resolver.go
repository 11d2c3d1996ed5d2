// Package graph is the GraphQL transport: resolvers that map an input to one
// call into internal/ and map the answer back, the error presenter, and the
// handler that wires gqlgen's server with explicit transports.
package graph

import (
	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/orders"
	"github.com/frsvc/fulfillment/internal/sender"
)

// Resolver holds the dependencies of every resolver. internal/app builds it,
// for the server and for every test alike.
type Resolver struct {
	Client      *ent.Client
	Admin       *admin.Service
	Orders      *orders.Service
	Fulfillment *fulfillment.Service
	Sender      *sender.Runner
}
