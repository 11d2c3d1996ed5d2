package scalar

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// MarshalID writes an ID: a row's integer id, as a string. It never answers
// graphql.Null (graph/gqlgen.go gives such fields a direct path).
func MarshalID(i int) graphql.Marshaler { return graphql.MarshalIntID(i) }

// UnmarshalID reads an ID as gqlgen's IntID does (a string of digits, or an
// integer), but says what is wrong in the API's words: gqlgen's answered
// `strconv.Atoi: parsing "abc": invalid syntax`.
func UnmarshalID(v any) (int, error) {
	switch n := v.(type) {
	case string:
		return parseID(n, v)
	case json.Number:
		return parseID(string(n), v)
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case int32:
		return int(n), nil
	}
	return 0, notID(v)
}

func parseID(s string, v any) (int, error) {
	i, err := strconv.ParseInt(s, 10, strconv.IntSize)
	if err != nil {
		return 0, notID(v)
	}
	return int(i), nil
}

func notID(v any) error {
	const hint = "ids are the numbers this API gives, such as \"42\""
	switch s := v.(type) {
	case string:
		if len(s) > 32 {
			return fmt.Errorf("the value given is not an id: %s", hint)
		}
		return fmt.Errorf("%q is not an id: %s", s, hint)
	case json.Number:
		return fmt.Errorf("%s is not an id: %s", s, hint)
	}
	return fmt.Errorf("%s is not an id: %s", Describe(v), hint)
}

// Describe names the kind of a JSON value in the API's words (never a Go
// type): "a number (12.5)", "true", "a list", "an object", "null".
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return fmt.Sprintf("a number (%s)", x)
	case float64, float32, int, int32, int64:
		return fmt.Sprintf("a number (%v)", x)
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "a value of another kind"
}
