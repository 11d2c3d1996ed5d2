package money

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// FuzzDecimal feeds any text to Parse and to the Decimal scalar's
// UnmarshalGQL: neither panics, both agree, an accepted value is exactly the
// text's value (never rounded, so never more than 4 decimals), lies within
// the bound, and survives String, MarshalGQL and Parse again unchanged.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{
		"0", "0.00", "12.50", "-3", "1.2345", "1.23456", "0.00001", "12.50000", "00012.5", "-0", "+1", ".5", "5.",
		" 7 ", "\t-2.25\n", "1e3", "1E3", "1.5e-2", "", " ", "-", ".", "..5", "1.2.3", "--1", "NaN", "Inf", "-Infinity",
		"0x10", "1_000", "1,000", "١٢", "１２", "999999999999.9999", "-999999999999.9999", "1000000000000",
		"1000000000000.0000", "99999999999999999999999999999999", "0.0000000000000000000000000001",
		"9223372036854775807", "-9223372036854775808", "12.5\x00", "12. 5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		var u Amount
		uerr := u.UnmarshalGQL(s)
		if (err == nil) != (uerr == nil) || (err == nil && u != a) {
			t.Fatalf("Parse(%q) = %v, %v but UnmarshalGQL = %v, %v", s, a, err, u, uerr)
		}
		if err != nil {
			return
		}
		d, derr := decimal.NewFromString(strings.TrimSpace(s))
		if derr != nil {
			t.Fatalf("Parse accepted %q, which is not a decimal: %v", s, derr)
		}
		if !a.Decimal().Equal(d) {
			t.Fatalf("Parse(%q) = %s: the value changed", s, a)
		}
		if scaled := d.Shift(Scale); !scaled.Equal(scaled.Truncate(0)) {
			t.Fatalf("Parse accepted %q, more than %d decimals", s, Scale)
		}
		if d.Abs().GreaterThanOrEqual(decimal.New(1, 12)) {
			t.Fatalf("Parse accepted %q, out of range", s)
		}
		str := a.String()
		back, err := Parse(str)
		if err != nil || back != a {
			t.Fatalf("Parse(String(Parse(%q))) = %v, %v; want %v", s, back, err, a)
		}
		dot := strings.IndexByte(str, '.')
		if dot < 0 || len(str)-dot-1 < 2 || len(str)-dot-1 > Scale {
			t.Fatalf("String() = %q: want 2 to %d decimals", str, Scale)
		}
		var buf bytes.Buffer
		a.MarshalGQL(&buf)
		var js string
		if err := json.Unmarshal(buf.Bytes(), &js); err != nil || js != str {
			t.Fatalf("MarshalGQL = %s, want the JSON string %q", buf.Bytes(), str)
		}
		var again Amount
		if err := again.UnmarshalGQL(js); err != nil || again != a {
			t.Fatalf("UnmarshalGQL(MarshalGQL(%v)) = %v, %v", a, again, err)
		}
	})
}

// TestDecimalOnlyStrings: the scalar takes strings only; a JSON number has
// usually been through a float already.
func TestDecimalOnlyStrings(t *testing.T) {
	for _, v := range []any{12.5, 12, int64(12), json.Number("12.50"), nil, true, []any{"1"}, map[string]any{}} {
		var a Amount
		if err := a.UnmarshalGQL(v); err == nil {
			t.Errorf("UnmarshalGQL(%#v) accepted: %v", v, a)
		}
	}
}
