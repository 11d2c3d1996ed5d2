package graph

import (
	"context"
	"fmt"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/frsvc/fulfillment/internal/gqlhttp"
)

// validationCases are documents valid and not, with the errors whose words
// depend on the suggestion setting among them.
var validationCases = []string{
	`{ viewer { role account { name } } }`,
	`query($n: Int) { orders(first: $n) { totalCount } }`,
	`{ viewer { rol } }`,
	`{ viewer { role { name } } }`,
	`{ viewer }`,
	`{ viewer { role: account { name } role } }`,
	`{ viewer { ...Missing } }`,
	`query($unused: Int) { viewer { role } }`,
	`fragment F on Viewer { role } { viewer { role } }`,
	`mutation { noSuchMutation }`,
}

// TestValidationRulesAsExecutor: documentBounds validates a document as
// gqlgen's executor does, suggestions on and off: the same errors, in the
// same order, for every case; so a document it hands the executor through
// the query cache is one the executor would have let through itself.
func TestValidationRulesAsExecutor(t *testing.T) {
	es := NewSchema(&Resolver{})
	for _, production := range []bool{false, true} {
		exec := executor.New(es)
		exec.SetDisableSuggestion(production)
		for _, q := range validationCases {
			_, want := exec.CreateOperationContext(opCtx(), &graphql.RawParams{Query: q})
			got := validator.ValidateWithRules(es.Schema(), parse(t, q), validationRules(production)())
			if fmt.Sprint(messages(got)) != fmt.Sprint(messages(want)) {
				t.Errorf("production %v, %s:\n the executor: %q\n documentBounds: %q", production, q, messages(want), messages(got))
			}
		}
	}
}

func messages(errs gqlerror.List) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Message
	}
	return out
}

// opCtx is a context as a transport starts an operation in.
func opCtx() context.Context { return graphql.StartOperationTrace(context.Background()) }

// countingCache counts a query cache's hits and additions.
type countingCache struct {
	graphql.Cache[*ast.QueryDocument]
	hits, adds int
}

func (c *countingCache) Get(ctx context.Context, key string) (*ast.QueryDocument, bool) {
	doc, ok := c.Cache.Get(ctx, key)
	if ok {
		c.hits++
	}
	return doc, ok
}

func (c *countingCache) Add(ctx context.Context, key string, doc *ast.QueryDocument) {
	c.adds++
	c.Cache.Add(ctx, key, doc)
}

// TestDocumentParsedOnce: a valid document not in the query cache is parsed
// once per request. documentBounds parses and validates it and puts it in
// the cache, and the executor takes it from there: one addition to the
// cache (the executor adds every document it parses and validates itself),
// and the executor's lookup hits. A document the transport parsed already
// (a GET's) is not parsed again: the executor runs that very document. A
// document that does not validate is answered by the executor as before
// and cached by no one.
func TestDocumentParsedOnce(t *testing.T) {
	es := NewSchema(&Resolver{})
	limits := Limits{}.withDefaults()
	setup := func() (*executor.Executor, *countingCache) {
		cache := &countingCache{Cache: newPagingCache(10)}
		exec := executor.New(es)
		exec.SetQueryCache(cache)
		exec.SetParserTokenLimit(limits.Tokens)
		exec.Use(documentBounds{limits: limits, cache: cache, schema: es.Schema(), rules: validationRules(false)})
		return exec, cache
	}

	const q = `{ viewer { role account { name } } }`
	exec, cache := setup()
	oc, errs := exec.CreateOperationContext(opCtx(), &graphql.RawParams{Query: q})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if cache.adds != 1 || cache.hits != 1 {
		t.Fatalf("%d additions to the cache and %d hits, want 1 and 1 (the executor parsing it again would add it again)", cache.adds, cache.hits)
	}
	if cached, _ := cache.Cache.Get(opCtx(), q); cached != oc.Doc {
		t.Fatal("the executor runs another document than the one cached")
	}

	exec, cache = setup()
	doc := parse(t, q)
	oc, errs = exec.CreateOperationContext(gqlhttp.WithParsedDocument(opCtx(), q, doc), &graphql.RawParams{Query: q})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if oc.Doc != doc || cache.adds != 1 {
		t.Fatalf("the transport's document was parsed again (same document %v, %d additions)", oc.Doc == doc, cache.adds)
	}

	exec, cache = setup()
	const bad = `{ viewer { rol } }`
	_, errs = exec.CreateOperationContext(opCtx(), &graphql.RawParams{Query: bad})
	_, want := executor.New(es).CreateOperationContext(opCtx(), &graphql.RawParams{Query: bad})
	if fmt.Sprint(messages(errs)) != fmt.Sprint(messages(want)) || len(errs) == 0 || cache.adds != 0 {
		t.Fatalf("an invalid document: %q (%d additions to the cache), want %q and none", messages(errs), cache.adds, messages(want))
	}
}
