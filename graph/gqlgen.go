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
//     middleware, panic recovery, error paths, null propagation);
//   - an object's collected fields and a field's coerced arguments are
//     computed once per operation (operationMemo), not once for each of
//     the hundreds of places a nested page repeats them;
//   - a field that only reads a struct field holding a leaf value whose
//     marshalling cannot fail (a String, Int, ID, Boolean or a scalar or
//     enum that marshals itself) gets a direct path, taken when plainLeaf
//     (graph/inorder.go) finds that the field middleware would only pass it
//     on: nothing would then observe the field's context, so it is not
//     built. Most fields of a page are such leaves.
package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"regexp"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
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
// execState opens the generated executionContext, to which the rewrites add
// the operation's memo.
const execState = "type executionContext struct {\n\t*graphql.ExecutionContextState[ResolverRoot, DirectiveRoot, ComplexityRoot]\n"

var rewrites = []struct {
	call, from, to string
	perObject      bool
}{
	{"graphql.MarshalSliceConcurrently(", "\tret := graphql.MarshalSliceConcurrently(", "\tret := marshalSliceInOrder(", false},
	{"graphql.NewDeferredGroup(", "\tdeferred := graphql.NewDeferredGroup(ctx)\n", "\tdeferred := noDeferredGroup(ctx)\n", true},
	{"graphql.ResolveField(", "\treturn graphql.ResolveField(", "\treturn resolveFieldInOrder(", false},
	{"graphql.NewFieldSet(", "\tout := graphql.NewFieldSet(fields)\n", "\tout := ec.memo.objectFields(fields)\n", true},
	{"graphql.NewScalarFieldContext(", "\treturn graphql.NewScalarFieldContext(", "\treturn newScalarFieldContext(", false},
	{"data.MarshalGQL(&buf)", "\t\t\tdata.MarshalGQL(&buf)\n", "\t\t\tmarshalResponse(opCtx, data, &buf)\n", false},
	{execState + "}\n", execState + "}\n", execState + "\tmemo operationMemo\n}\n", false},
	{"graphql.CollectFields(", "\tfields := graphql.CollectFields(ec.OperationContext, sel, ", "\tfields := ec.memo.collectFields(ec.OperationContext, sel, ", true},
}

// fieldArgs matches the end of a generated field context that coerces the
// field's arguments; memoArgs is what replaces it: the arguments coerced
// once per operation and field (they depend on nothing else), kept when
// valid. A field in error is coerced, and reported, at each place it occurs.
// No argument or input field may have a directive (argsFunc finds the
// coercions).
var (
	fieldArgs = regexp.MustCompile(`\tctx = graphql\.WithFieldContext\(ctx, fc\)\n` +
		`\tif fc\.Args, err = ec\.(field_\w+_args)\(ctx, field\.ArgumentMap\(ec\.Variables\)\); err != nil \{\n` +
		`\t\tec\.Error\(ctx, err\)\n\t\treturn fc, err\n\t\}\n\treturn fc, nil\n`)
	argsFunc = regexp.MustCompile(`(?ms)^func \(ec \*executionContext\) (?:field_\w+_args|unmarshalInput\w+)\(.*?^}\n`)
	argsHead = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (?:field_\w+_args|unmarshalInput\w+)\(`)
	memoArgs = []byte("\tif args, ok := ec.memo.args(field); ok {\n\t\tfc.Args = args\n\t\treturn fc, nil\n\t}\n" +
		"\tctx = graphql.WithFieldContext(ctx, fc)\n" +
		"\tif fc.Args, err = ec.${1}(ctx, field.ArgumentMap(ec.Variables)); err != nil {\n" +
		"\t\tec.Error(ctx, err)\n\t\treturn fc, err\n\t}\n" +
		"\tec.memo.keepArgs(field, fc.Args)\n\treturn fc, nil\n")
)

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
	args, coercions := len(fieldArgs.FindAllIndex(src, -1)), bytes.Count(src, []byte("field.ArgumentMap(ec.Variables)"))
	if args == 0 || args != coercions {
		log.Fatalf("gqlgen: %d of %d field argument coercions have the known form: check memoArgs against this gqlgen version", args, coercions)
	}
	bodies := argsFunc.FindAll(src, -1)
	if heads := argsHead.FindAll(src, -1); len(bodies) == 0 || len(bodies) != len(heads) {
		log.Fatalf("gqlgen: %d of %d argument and input coercions found whole: check argsFunc against this gqlgen version", len(bodies), len(heads))
	}
	for _, body := range bodies {
		if bytes.Contains(body, []byte("ec.directives.")) {
			log.Fatalf("gqlgen: %s: a directive on an argument or input field may depend on where the field is; memoArgs would keep what it gave the first time",
				body[:bytes.IndexByte(body, '(')+1])
		}
	}
	src = fieldArgs.ReplaceAll(src, memoArgs)
	src, leaves := directLeaves(src, cfg.Schema)
	if leaves == 0 {
		log.Fatalf("gqlgen: no plain leaf field found in %s: check directLeaves against this gqlgen version", path)
	}
	for _, banned := range []string{"ResolveConcurrently(", "ResolveRootConcurrently(", "go func("} {
		if bytes.Contains(src, []byte(banned)) {
			log.Fatalf("gqlgen: %s still calls %q: fields would not resolve in order", path, banned)
		}
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	fmt.Fprintf(os.Stderr, "gqlgen: %s generated, fields resolve in order, %d leaves direct\n", path, leaves)
}

// leafMarshal matches a generated marshaller of a value (not a pointer,
// list or map) whose result cannot be null or an error: one that returns
// the value itself (a type with its own MarshalGQL, which has no error to
// give), or a String, Int, ID or Boolean, for which gqlgen's Marshal
// function, and internal/scalar's MarshalInt and MarshalID, never answer null.
var leafMarshal = regexp.MustCompile(`(?m)^func \(ec \*executionContext\) (marshal[\p{L}\p{N}_]+)\(ctx context\.Context, sel ast\.SelectionSet, v [\w.]+\) graphql\.Marshaler \{\n` +
	`(?:\treturn v\n` +
	`|\t_ = sel\n\tres := ` + leafMarshalFunc + `\(v\)\n\tif res == graphql\.Null \{\n\t\tgraphql\.AddInvalidNullFromMarshaler\(ctx, "\w+!"\)\n\t\}\n\treturn res\n` +
	`|\t_ = sel\n\t_ = ctx\n\tres := ` + leafMarshalFunc + `\(v\)\n\treturn res\n` +
	`)\}\n`)

// leafMarshalFunc are the Marshal functions of leafMarshal.
const leafMarshalFunc = `(?:graphql\.(?:MarshalString|MarshalInt|MarshalIntID|MarshalBoolean)|scalar\.Marshal(?:Int|ID))`

// plainField matches a generated field of an object (not an introspection
// type) whose resolver reads a struct field, with no directive, marshalled
// by a named marshaller.
var plainField = regexp.MustCompile(`(?m)^(func \(ec \*executionContext\) _([A-Z]\w*?)_(\w+)\(ctx context\.Context, field graphql\.CollectedField, obj \*[\w.]+\) \(ret graphql\.Marshaler\) \{\n)` +
	`(\treturn resolveFieldInOrder\(\n\t\tctx,\n\t\tec\.OperationContext,\n\t\tfield,\n` +
	`\t\tfunc\(ctx context\.Context, field graphql\.CollectedField\) \(\*graphql\.FieldContext, error\) \{\n\t\t\treturn ec\.fieldContext_(\w+)\(ctx, field\)\n\t\t\},\n` +
	`\t\tfunc\(ctx context\.Context\) \(any, error\) \{\n\t\t\treturn obj\.(\w+), nil\n\t\t\},\n` +
	`\t\tnil,\n` +
	`\t\tfunc\(ctx context\.Context, selections ast\.SelectionSet, v [\w.]+\) graphql\.Marshaler \{\n\t\t\treturn ec\.(marshal[\p{L}\p{N}_]+)\(ctx, selections, v\)\n\t\t\},\n)`)

// directLeaves gives each plain field marshalled by a leaf marshaller a
// direct path ahead of resolveFieldInOrder, and counts them.
func directLeaves(src []byte, schema *ast.Schema) ([]byte, int) {
	leaf := map[string]bool{}
	for _, m := range leafMarshal.FindAllSubmatch(src, -1) {
		leaf[string(m[1])] = true
	}
	n := 0
	src = plainField.ReplaceAllFunc(src, func(b []byte) []byte {
		m := plainField.FindSubmatch(b)
		object, field, fieldContext, goField, marshal := m[2], m[3], m[5], m[6], string(m[7])
		if !leaf[marshal] || string(fieldContext) != string(object)+"_"+string(field) {
			return b
		}
		if def := schema.Types[string(object)]; def == nil || def.Kind != ast.Object || def.Fields.ForName(string(field)) == nil {
			log.Fatalf("gqlgen: %s is not a field of an object in the schema", b[:bytes.IndexByte(b, '(')+1])
		}
		n++
		return fmt.Appendf(nil, "%s\tif plainLeaf(ec.OperationContext, %q, %q) {\n\t\treturn ec.%s(ctx, field.Selections, obj.%s)\n\t}\n%s",
			m[1], object, field, marshal, goField, m[4])
	})
	return src, n
}
