package schema

import (
	"entgo.io/contrib/entgql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The roles of API keys as the GraphQL enum ApiKeyRole names them (the
// values of ApiKey.role), for the authorization directives declared in
// schema/authz.graphql and implemented in graph/authz.go.
const (
	roleAdmin    = "ADMIN"
	roleReadOnly = "READ_ONLY"
	roleSource   = "SOURCE"
)

// operators are the roles of the account's own keys; a SOURCE key is a
// partner's.
var operators = []string{roleAdmin, roleReadOnly}

// allow is @allow(roles: …): the roles that may use a root field.
func allow(roles ...string) entgql.Directive { return rolesDirective("allow", roles) }

// readableBy is @readableBy(roles: …): the roles that may read an object field.
func readableBy(roles ...string) entgql.Directive { return rolesDirective("readableBy", roles) }

// filterRelations is @filterRelations(roles: …): the roles whose where
// argument may filter through relations.
func filterRelations(roles ...string) entgql.Directive {
	return rolesDirective("filterRelations", roles)
}

// operatorsOnly annotates a field or edge only operator keys may read.
func operatorsOnly() entgql.Annotation { return entgql.Directives(readableBy(operators...)) }

// operatorRelationFilters annotates an edge with a where argument: only
// operator keys may filter it through relations.
func operatorRelationFilters() entgql.Annotation {
	return entgql.Directives(filterRelations(operators...))
}

// rootConnection are the directives of a root connection (which takes a
// where argument) that roles may use: @allow last, as gqlgen runs a field's
// directives from the last to the first, so that a role refused the field
// is told so whatever its where.
func rootConnection(roles ...string) []entgql.Directive {
	return []entgql.Directive{filterRelations(operators...), allow(roles...)}
}

func rolesDirective(name string, roles []string) entgql.Directive {
	list := &ast.Value{Kind: ast.ListValue}
	for _, r := range roles {
		list.Children = append(list.Children, &ast.ChildValue{Value: &ast.Value{Kind: ast.EnumValue, Raw: r}})
	}
	return entgql.NewDirective(name, &ast.Argument{Name: "roles", Value: list})
}
