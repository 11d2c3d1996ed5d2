package schema

import (
	"entgo.io/contrib/entgql"
	"github.com/vektah/gqlparser/v2/ast"
)

// The roles of API keys as the GraphQL enum ApiKeyRole names them (the
// values of ApiKey.role), for the authorization directives declared in
// schema/authz.graphql and implemented in graph/authz.go: @allow on root
// connections, @operatorOnly on the fields a SOURCE key may not read,
// @operatorRelationFilters on every connection's where.
const (
	roleAdmin    = "ADMIN"
	roleReadOnly = "READ_ONLY"
	roleSource   = "SOURCE"
)

// operators are the roles of the account's own keys (internal/auth's
// IsOperator); a SOURCE key is a partner's.
var operators = []string{roleAdmin, roleReadOnly}

// allow is @allow(roles: …): the roles that may use a root field.
func allow(roles ...string) entgql.Directive { return rolesDirective("allow", roles) }

// operatorOnlyField annotates a field or edge only operator keys may read.
func operatorOnlyField() entgql.Annotation { return entgql.Directives(operatorOnly()) }

// operatorOnly is @operatorOnly.
func operatorOnly() entgql.Directive { return entgql.NewDirective("operatorOnly") }

// operatorRelationFilters is @operatorRelationFilters, for a field with a
// where argument: only operator keys may filter it through relations.
func operatorRelationFilters() entgql.Directive {
	return entgql.NewDirective("operatorRelationFilters")
}

// operatorFilteredEdge annotates an edge with a where argument.
func operatorFilteredEdge() entgql.Annotation { return entgql.Directives(operatorRelationFilters()) }

// rootConnection are the directives of a root connection (which takes a
// where argument) that roles may use: @allow last, as gqlgen runs a field's
// directives from the last to the first, so that a role refused the field
// is told so whatever its where.
func rootConnection(roles ...string) []entgql.Directive {
	return []entgql.Directive{operatorRelationFilters(), allow(roles...)}
}

func rolesDirective(name string, roles []string) entgql.Directive {
	list := &ast.Value{Kind: ast.ListValue}
	for _, r := range roles {
		list.Children = append(list.Children, &ast.ChildValue{Value: &ast.Value{Kind: ast.EnumValue, Raw: r}})
	}
	return entgql.NewDirective(name, &ast.Argument{Name: "roles", Value: list})
}
