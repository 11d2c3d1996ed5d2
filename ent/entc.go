//go:build ignore

// Command entc generates the ent data layer and, through the entgql
// extension, schema/ent.graphql. It runs first in `go generate ./...`;
// gqlgen runs second.
package main

import (
	"fmt"
	"log"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./schema/ent.graphql"),
		entgql.WithWhereInputs(true),
		entgql.WithNodeDescriptor(false),
		entgql.WithSchemaHook(newestLogsFirst, allowNodeQueries),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Target:  "./ent",
		Package: "github.com/frsvc/fulfillment/ent",
		Features: []gen.Feature{
			gen.FeatureGlobalID,
			gen.FeatureLock,
			gen.FeatureUpsert,
			gen.FeatureModifier,
			gen.FeatureExecQuery,
			gen.FeatureIntercept,
			gen.FeatureNamedEdges,
		},
	}, entc.Extensions(ex), pagingTemplates)
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// pagingTemplates adds ent/template after entgql's templates, so that its
// definitions replace entgql's of the same name: paging by pageInfo alone
// (without edges) gets the page's cursors, and first with last is a typed
// refusal. See the files for what changed from entgql's.
func pagingTemplates(cfg *gen.Config) error {
	for _, name := range []string{"paging.tmpl", "collection.tmpl"} {
		t, err := gen.NewTemplate(name).Funcs(entgql.TemplateFuncs).ParseFiles("./ent/template/" + name)
		if err != nil {
			return fmt.Errorf("parsing ent/template/%s: %w", name, err)
		}
		cfg.Templates = append(cfg.Templates, t)
	}
	return nil
}

// newestLogsFirst makes Order.logs and FulfillmentRequest.logs page newest
// first unless the caller orders them otherwise: an operator reads a trail
// from its latest entry.
func newestLogsFirst(_ *gen.Graph, s *ast.Schema) error {
	for _, typ := range []string{"Order", "FulfillmentRequest"} {
		def := s.Types[typ]
		if def == nil || def.Fields.ForName("logs") == nil {
			return fmt.Errorf("%s.logs not found", typ)
		}
		arg := def.Fields.ForName("logs").Arguments.ForName("orderBy")
		if arg == nil {
			return fmt.Errorf("%s.logs has no orderBy", typ)
		}
		arg.DefaultValue = &ast.Value{Kind: ast.ObjectValue, Children: ast.ChildValueList{
			{Name: "direction", Value: &ast.Value{Kind: ast.EnumValue, Raw: "DESC"}},
			{Name: "field", Value: &ast.Value{Kind: ast.EnumValue, Raw: "CREATED_AT"}},
		}}
	}
	return nil
}

// allowNodeQueries declares who may use node and nodes, which entgql adds to
// Query itself: every role (each key sees what its scope holds; see
// schema/authz.graphql). It then checks that every root query entgql writes
// declares its roles, as the ent schema's QueryField annotations do.
func allowNodeQueries(_ *gen.Graph, s *ast.Schema) error {
	query := s.Types["Query"]
	if query == nil {
		return fmt.Errorf("no Query type")
	}
	for _, name := range []string{"node", "nodes"} {
		f := query.Fields.ForName(name)
		if f == nil {
			return fmt.Errorf("Query.%s not found", name)
		}
		roles := &ast.Value{Kind: ast.ListValue}
		for _, r := range []string{"ADMIN", "READ_ONLY", "SOURCE"} {
			roles.Children = append(roles.Children, &ast.ChildValue{Value: &ast.Value{Kind: ast.EnumValue, Raw: r}})
		}
		f.Directives = append(f.Directives, &ast.Directive{Name: "allow", Arguments: ast.ArgumentList{{Name: "roles", Value: roles}}})
	}
	for _, f := range query.Fields {
		if f.Directives.ForName("allow") == nil {
			return fmt.Errorf("Query.%s declares no roles: annotate its QueryField with Directives(allow(…))", f.Name)
		}
	}
	return nil
}
