package graph

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/frsvc/fulfillment/internal/apperr"
	"github.com/frsvc/fulfillment/internal/scalar"
)

// The bounds of argument values. The walker checks them on the arguments of
// every field of an operation before any resolver runs, so before any SQL:
// entgql loads nested connections with their parent's query, before their
// own resolvers would see their arguments. Both databases then answer alike,
// where PostgreSQL refused a NUL (INTERNAL) that SQLite stored, an index row
// refused a 1 MiB SKU, and SQLite's expression depth and variable count
// refused deep or wide filters.
const (
	// MaxStringBytes bounds any string argument or input field.
	MaxStringBytes = 4096
	// MaxIdentifierBytes bounds the strings that name or number something
	// (see identifiers), most of them indexed columns.
	MaxIdentifierBytes = 255
	// MaxListItems bounds any list. Some lists have tighter bounds of their
	// own (upsertInventory's items, an order's lines).
	MaxListItems = 1000
	// MaxFilterNesting bounds how deep a where filter nests filters (not,
	// and, or, has…With).
	MaxFilterNesting = 10
	// MaxFilterPredicates bounds the predicates (fields other than nested
	// filters) of one where filter, nested filters included.
	MaxFilterPredicates = 100
	// MaxFilterValues bounds the values of the lists of one where filter
	// (idIn, skuIn, …) together.
	MaxFilterValues = 1000
)

// identifierFields are the inputs held to MaxIdentifierBytes: these names
// and the filters on them (skuIn, nameContains, …).
var identifierFields = func() map[string]bool {
	names := []string{"sku", "orderNumber", "channel", "name", "referenceNumber", "code", "number",
		"trackingNumber", "confirmationNumber", "correlationID"}
	suffixes := []string{"", "NEQ", "In", "NotIn", "GT", "GTE", "LT", "LTE",
		"Contains", "HasPrefix", "HasSuffix", "EqualFold", "ContainsFold"}
	m := map[string]bool{}
	for _, n := range names {
		for _, s := range suffixes {
			m[n+s] = true
		}
	}
	return m
}()

// argumentValues is the field's arguments with variables and defaults
// applied, as ast.Field.ArgumentMap gives them, but answering an error
// where ArgumentMap panics (a literal that no Go value holds, such as an
// integer of 20 digits given to a custom scalar).
func argumentValues(f *ast.Field, vars map[string]any) (map[string]any, *apperr.Error) {
	if f.Definition == nil {
		return nil, nil
	}
	out := make(map[string]any, len(f.Definition.Arguments))
	for _, def := range f.Definition.Arguments {
		if a := f.Arguments.ForName(def.Name); a != nil {
			if a.Value.Kind != ast.Variable {
				v, err := a.Value.Value(vars)
				if err != nil {
					return nil, &apperr.Error{Code: apperr.Validation, Field: def.Name, Message: "not a value of type " + def.Type.String()}
				}
				out[def.Name] = v
				continue
			}
			if v, ok := vars[a.Value.Raw]; ok {
				out[def.Name] = v
				continue
			}
		}
		if def.DefaultValue != nil {
			v, err := def.DefaultValue.Value(vars)
			if err != nil {
				return nil, &apperr.Error{Code: apperr.Validation, Field: def.Name, Message: "not a value of type " + def.Type.String()}
			}
			out[def.Name] = v
		}
	}
	return out, nil
}

// checkArguments checks the field's argument values against the bounds
// above and, for Int, the 32-bit range. The error names the argument's path
// as a coercion error does: input.lines[0].sku.
func checkArguments(schema *ast.Schema, f *ast.Field, args map[string]any) *apperr.Error {
	if f.Definition == nil {
		return nil
	}
	w := argWalk{schema: schema}
	for _, def := range f.Definition.Arguments {
		v, ok := args[def.Name]
		if !ok {
			continue
		}
		w.path = append(w.path[:0], def.Name)
		if !w.value(v, def.Type, def.Name) {
			return w.err
		}
	}
	return nil
}

// argWalk walks one argument's value along its type.
type argWalk struct {
	schema *ast.Schema
	// path holds the names (string) and list indexes (int) down to the value.
	path []any
	// filter counts the where filter being walked (nil outside one).
	filter *filterCount
	err    *apperr.Error
}

type filterCount struct {
	path                        string
	nesting, predicates, values int
}

func (w *argWalk) fail(format string, args ...any) bool {
	w.err = &apperr.Error{Code: apperr.Validation, Field: w.pathString(), Message: fmt.Sprintf(format, args...)}
	return false
}

func (w *argWalk) pathString() string {
	var b strings.Builder
	for _, p := range w.path {
		switch p := p.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case int:
			b.WriteString("[" + strconv.Itoa(p) + "]")
		}
	}
	return b.String()
}

// value checks v, of type t (nil when unknown, as inside a Map), named name
// (the argument or input field it is the value of, or the list's).
func (w *argWalk) value(v any, t *ast.Type, name string) bool {
	if v == nil {
		return true
	}
	if t != nil && t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			// A single value where a list is expected is a list of one.
			return w.value(v, t.Elem, name)
		}
		if !w.listLen(len(list)) {
			return false
		}
		if w.filter != nil && !w.isInputObject(t.Elem) {
			if w.filter.values += len(list); w.filter.values > MaxFilterValues {
				return w.fail("a filter's lists may hold at most %d values in all", MaxFilterValues)
			}
		}
		for i, e := range list {
			w.path = append(w.path, i)
			if !w.value(e, t.Elem, name) {
				return false
			}
			w.path = w.path[:len(w.path)-1]
		}
		return true
	}
	var def *ast.Definition
	if t != nil && w.schema != nil {
		def = w.schema.Types[t.NamedType]
	}
	switch {
	case def == nil:
	case def.Kind == ast.InputObject:
		if m, ok := v.(map[string]any); ok {
			return w.object(m, def)
		}
	case def.Kind == ast.Scalar && def.Name == "Int":
		if _, err := scalar.UnmarshalInt(v); err != nil {
			return w.fail("%s", err.Error())
		}
		return true
	}
	return w.untyped(v, name)
}

func (w *argWalk) listLen(n int) bool {
	if n > MaxListItems {
		return w.fail("at most %d items are allowed, got %d", MaxListItems, n)
	}
	return true
}

func (w *argWalk) isInputObject(t *ast.Type) bool {
	if w.schema == nil || t.Elem != nil {
		return false
	}
	d := w.schema.Types[t.NamedType]
	return d != nil && d.Kind == ast.InputObject
}

// object checks an input object's fields, in name order so that the first
// error found does not depend on map order. A where filter (an input named
// …WhereInput) is counted.
func (w *argWalk) object(m map[string]any, def *ast.Definition) bool {
	if strings.HasSuffix(def.Name, "WhereInput") {
		if w.filter == nil {
			w.filter = &filterCount{path: w.pathString()}
			defer func() { w.filter = nil }()
		} else {
			w.filter.nesting++
			defer func() { w.filter.nesting-- }()
			if w.filter.nesting > MaxFilterNesting {
				return w.fail("a filter may nest not, and, or and has…With at most %d deep", MaxFilterNesting)
			}
		}
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		var t *ast.Type
		if fd := def.Fields.ForName(k); fd != nil {
			t = fd.Type
		}
		if w.filter != nil && v != nil && (t == nil || !w.isFilter(t)) {
			if w.filter.predicates++; w.filter.predicates > MaxFilterPredicates {
				w.err = &apperr.Error{Code: apperr.Validation, Field: w.filter.path,
					Message: fmt.Sprintf("a filter may hold at most %d predicates", MaxFilterPredicates)}
				return false
			}
		}
		w.path = append(w.path, k)
		if !w.value(v, t, k) {
			return false
		}
		w.path = w.path[:len(w.path)-1]
	}
	return true
}

// isFilter reports whether t is a where filter or a list of them.
func (w *argWalk) isFilter(t *ast.Type) bool {
	for t.Elem != nil {
		t = t.Elem
	}
	return strings.HasSuffix(t.NamedType, "WhereInput") && w.isInputObject(t)
}

// untyped checks a value whatever its type: strings, and the strings,
// keys and lengths of lists and maps (a Map, a value of an unknown field).
func (w *argWalk) untyped(v any, name string) bool {
	switch x := v.(type) {
	case string:
		return w.str(x, name)
	case bool, int, int64, float64, json.Number:
		return true
	case []any:
		if !w.listLen(len(x)) {
			return false
		}
		for i, e := range x {
			w.path = append(w.path, i)
			if !w.untyped(e, name) {
				return false
			}
			w.path = w.path[:len(w.path)-1]
		}
		return true
	case map[string]any:
		for _, k := range sortedKeys(x) {
			w.path = append(w.path, k)
			if !w.str(k, "") || !w.untyped(x[k], k) {
				return false
			}
			w.path = w.path[:len(w.path)-1]
		}
		return true
	}
	// Go values other than JSON's (a caller of the executor in process).
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return w.str(rv.String(), name)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return true
		}
		if !w.listLen(rv.Len()) {
			return false
		}
		for i := range rv.Len() {
			w.path = append(w.path, i)
			if !w.untyped(rv.Index(i).Interface(), name) {
				return false
			}
			w.path = w.path[:len(w.path)-1]
		}
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return true
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			w.path = append(w.path, k.String())
			if !w.str(k.String(), "") || !w.untyped(rv.MapIndex(k).Interface(), k.String()) {
				return false
			}
			w.path = w.path[:len(w.path)-1]
		}
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			return w.untyped(rv.Elem().Interface(), name)
		}
	}
	return true
}

// str checks a string: its length in bytes, no NUL (PostgreSQL refuses it
// in text, SQLite would store it) and valid UTF-8.
func (w *argWalk) str(s, name string) bool {
	limit := MaxStringBytes
	if identifierFields[name] {
		limit = MaxIdentifierBytes
	}
	switch {
	case len(s) > limit:
		return w.fail("at most %d bytes are allowed, got %d", limit, len(s))
	case strings.IndexByte(s, 0) >= 0:
		return w.fail("must not contain a NUL character")
	case !utf8.ValidString(s):
		return w.fail("must be valid UTF-8")
	}
	return true
}

func sortedKeys(m map[string]any) []string {
	if len(m) == 1 {
		for k := range m {
			return []string{k}
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
