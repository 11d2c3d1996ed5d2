// Package scalar holds the GraphQL scalars the service marshals itself.
package scalar

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalInt writes an Int. It never answers graphql.Null (graph/gqlgen.go
// gives such fields a direct path).
func MarshalInt(i int) graphql.Marshaler { return graphql.MarshalInt(i) }

// UnmarshalInt coerces an Int input as the GraphQL specification asks: an
// integral number within 32 bits, from a literal of the document (int64) or
// a variable (a JSON number). gqlgen's own Int takes any int64 and numeric
// strings, so that 2^63−1 or "5" passed as an Int and reached columns that
// cannot hold them.
func UnmarshalInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return int32Range(int64(n), v)
	case int32:
		return int(n), nil
	case int64:
		return int32Range(n, v)
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return int32Range(i, v)
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, notInt(v)
		}
		return integral(f, v)
	case float64:
		return integral(n, v)
	case float32:
		return integral(float64(n), v)
	}
	return 0, notInt(v)
}

// integral accepts a float that holds a whole number within 32 bits, as a
// JSON number such as 5.0 or 1e3 does.
func integral(f float64, v any) (int, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) {
		return 0, notInt(v)
	}
	if f < math.MinInt32 || f > math.MaxInt32 {
		return 0, outOfRange(v)
	}
	return int(f), nil
}

func int32Range(i int64, v any) (int, error) {
	if i < math.MinInt32 || i > math.MaxInt32 {
		return 0, outOfRange(v)
	}
	return int(i), nil
}

func outOfRange(v any) error {
	return fmt.Errorf("Int cannot represent non 32-bit signed integer value: %v", v)
}

func notInt(v any) error {
	switch v.(type) {
	case string:
		// Not echoed: it may be long.
		return fmt.Errorf("Int cannot represent a string")
	case bool, json.Number, float64, float32:
		return fmt.Errorf("Int cannot represent non-integer value: %v", v)
	}
	return fmt.Errorf("Int cannot represent %s", Describe(v))
}
