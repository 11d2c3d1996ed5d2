package scalar

import (
	"encoding/json"
	"math"
	"testing"
)

func TestUnmarshalInt(t *testing.T) {
	for _, c := range []struct {
		in   any
		want int
		ok   bool
	}{
		{int64(5), 5, true},
		{int64(math.MaxInt32), math.MaxInt32, true},
		{int64(math.MinInt32), math.MinInt32, true},
		{int64(math.MaxInt32 + 1), 0, false},
		{int64(math.MinInt32 - 1), 0, false},
		{int64(1 << 62), 0, false},
		{int64(math.MaxInt64), 0, false},
		{5, 5, true},
		{int32(-7), -7, true},
		{json.Number("5"), 5, true},
		{json.Number("-2147483648"), math.MinInt32, true},
		{json.Number("2147483647"), math.MaxInt32, true},
		{json.Number("2147483648"), 0, false},
		{json.Number("9223372036854775807"), 0, false},
		{json.Number("18446744073709551616"), 0, false},
		{json.Number("5.0"), 5, true},
		{json.Number("1e3"), 1000, true},
		{json.Number("5.5"), 0, false},
		{json.Number("1e10"), 0, false},
		{5.0, 5, true},
		{5.5, 0, false},
		{math.Inf(1), 0, false},
		{math.NaN(), 0, false},
		{float64(math.MaxInt32 + 1), 0, false},
		{"5", 0, false},
		{"", 0, false},
		{true, 0, false},
		{nil, 0, false},
		{[]any{int64(1)}, 0, false},
		{map[string]any{}, 0, false},
	} {
		got, err := UnmarshalInt(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("UnmarshalInt(%#v) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}
