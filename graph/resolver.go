// Package graph is the GraphQL transport: resolvers that map an input to one
// call into internal/ and map the answer back, the error presenter, and the
// handler that wires gqlgen's server with explicit transports.
package graph

import (
	"github.com/frsvc/fulfillment/ent"
	"github.com/frsvc/fulfillment/internal/admin"
	"github.com/frsvc/fulfillment/internal/db"
	"github.com/frsvc/fulfillment/internal/fulfillment"
	"github.com/frsvc/fulfillment/internal/orders"
	"github.com/frsvc/fulfillment/internal/sender"
)

// Resolver holds the dependencies of every resolver. Tests and main build
// it the same way, through New.
type Resolver struct {
	Client      *ent.Client
	Admin       *admin.Service
	Orders      *orders.Service
	Fulfillment *fulfillment.Service
	Sender      *sender.Runner
}

// New returns a resolver over one store, with the use-case services built
// around it. fs is the fulfillment service, shared with the rest of the
// process (the send run, metrics hooks).
func New(store *db.Store, fs *fulfillment.Service, sr *sender.Runner) *Resolver {
	return &Resolver{
		Sender:      sr,
		Client:      store.Client,
		Admin:       &admin.Service{Client: store.Client},
		Orders:      &orders.Service{Client: store.Client, AfterImport: fs.GenerateOnImport},
		Fulfillment: fs,
	}
}
