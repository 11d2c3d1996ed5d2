//go:build ignore

// Command gqlgen generates the GraphQL executor (graph/generated.go), the
// models and the resolver stubs from gqlgen.yml, as `gqlgen generate` does,
// with one difference: every field of every object resolves in order on the
// request's goroutine instead of on a goroutine of its own, and with less
// wrapping per field.
//
// gqlgen starts a goroutine for each element of a list of objects and for
// each resolver or context-taking method of an object after the first,
// computes a @defer path and allocates a map for each object it marshals, and
// wraps each field's result twice. A page of this API holds thousands of
// fields whose data entgql has already loaded in a few batched queries (see
// TestNoNPlusOne), so that machinery is pure cost: it dominated the CPU and
// allocation profile of the load benchmark's page (goroutine start-up, stack
// growth, garbage collection). Batching, not parallelism, keeps nested pages
// cheap.
//
// The means, each checked here so that a gqlgen upgrade that changes the
// generated code fails loudly instead of silently:
//   - a plugin marks every object DisableConcurrency (as gqlgen itself does
//     for Mutation), so object fields resolve inline, @defer included;
//   - exact rewrites of the generated executor point list marshalling, the
//     deferred group, field resolution, the object's field set, the
//     scalar field context and the answer's buffer at the equivalents in
//     graph/inorder.go, which keep gqlgen's behaviour (field contexts,
//     middleware, panic recovery, error paths, null propagation).
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

// inOrder is the gqlgen plugin that turns off per-field concurrency.
type inOrder struct{}

func (inOrder) Name() string { return "inorder" }

func (inOrder) GenerateCode(data *codegen.Data) error {
	for _, o := range data.Objects {
		o.DisableConcurrency = true
	}
	return nil
}

// rewrites are the exact replacements made in the generated executor,
// anchored to the generated statements (so that schema text embedded in the
// file is never touched). Each must match, those generated once per object
// exactly once per object, and no other call of the replaced gqlgen
// function may be left.
var rewrites = []struct {
	call, from, to string
	perObject      bool
}{
	{"graphql.MarshalSliceConcurrently(", "\tret := graphql.MarshalSliceConcurrently(", "\tret := marshalSliceInOrder(", false},
	{"graphql.NewDeferredGroup(", "\tdeferred := graphql.NewDeferredGroup(ctx)\n", "\tdeferred := noDeferredGroup(ctx)\n", true},
	{"graphql.ResolveField(", "\treturn graphql.ResolveField(", "\treturn resolveFieldInOrder(", false},
	{"graphql.NewFieldSet(", "\tout := graphql.NewFieldSet(fields)\n", "\tout := newObjectFields(fields)\n", true},
	{"graphql.NewScalarFieldContext(", "\treturn graphql.NewScalarFieldContext(", "\treturn newScalarFieldContext(", false},
	{"data.MarshalGQL(&buf)", "\t\t\tdata.MarshalGQL(&buf)\n", "\t\t\tmarshalResponse(opCtx, data, &buf)\n", false},
}

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatalf("gqlgen: load config: %v", err)
	}
	if err := api.Generate(cfg, api.AddPlugin(inOrder{})); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	path := cfg.Exec.Filename
	src, err := os.ReadFile(path)
	if err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	objects := bytes.Count(src, []byte("\tfields := graphql.CollectFields("))
	for _, r := range rewrites {
		n := bytes.Count(src, []byte(r.from))
		if n == 0 || r.perObject && n != objects {
			log.Fatalf("gqlgen: %q occurs %d times for %d objects: check graph/inorder.go against this gqlgen version", r.from, n, objects)
		}
		src = bytes.ReplaceAll(src, []byte(r.from), []byte(r.to))
		if bytes.Contains(src, []byte(r.call)) {
			log.Fatalf("gqlgen: %s still calls %s in a form the rewrites do not know", path, r.call)
		}
	}
	for _, banned := range []string{"ResolveConcurrently(", "ResolveRootConcurrently(", "go func("} {
		if bytes.Contains(src, []byte(banned)) {
			log.Fatalf("gqlgen: %s still calls %q: fields would not resolve in order", path, banned)
		}
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	fmt.Fprintf(os.Stderr, "gqlgen: %s generated, fields resolve in order\n", path)
}
