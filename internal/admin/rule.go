package admin

import (
	"fmt"
	"io"

	"github.com/99designs/gqlgen/graphql"
)

// RoutingRule is the GraphQL RoutingRule enum; the routing engine has the
// same names.
type RoutingRule string

// The rules of DOMAIN.md.
const (
	SingleRequestRequired  RoutingRule = "SINGLE_REQUEST_REQUIRED"
	SingleRequestPreferred RoutingRule = "SINGLE_REQUEST_PREFERRED"
	FewestRequests         RoutingRule = "FEWEST_REQUESTS"
	LowestCost             RoutingRule = "LOWEST_COST"
	SourcePriority         RoutingRule = "SOURCE_PRIORITY"
)

// AllRules lists the rules.
var AllRules = []RoutingRule{SingleRequestRequired, SingleRequestPreferred, FewestRequests, LowestCost, SourcePriority}

// Valid reports whether r is a known rule.
func (r RoutingRule) Valid() bool {
	for _, k := range AllRules {
		if r == k {
			return true
		}
	}
	return false
}

// MarshalGQL writes the enum value.
func (r RoutingRule) MarshalGQL(w io.Writer) { graphql.MarshalString(string(r)).MarshalGQL(w) }

// UnmarshalGQL reads the enum value.
func (r *RoutingRule) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("RoutingRule must be a string, got %T", v)
	}
	if !RoutingRule(s).Valid() {
		return fmt.Errorf("%q is not a RoutingRule", s)
	}
	*r = RoutingRule(s)
	return nil
}
