// Package model would hold the Go types gqlgen generates for GraphQL types
// that are not bound to a type of ours. Every type is bound today (see
// gqlgen.yml), so gqlgen writes nothing here; the package stays so that
// gqlgen has its model target.
package model
