package money

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

func TestParseAndString(t *testing.T) {
	cases := []struct {
		in   string
		want Amount
		out  string
		err  error
	}{
		{"0", 0, "0.00", nil},
		{"12.5", 125000, "12.50", nil},
		{"12.50", 125000, "12.50", nil},
		{"1.2345", 12345, "1.2345", nil},
		{"-3.2", -32000, "-3.20", nil},
		{" 7 ", 70000, "7.00", nil},
		{"0.0001", 1, "0.0001", nil},
		{"1.23456", 0, "", ErrTooPrecise},
		{"1e3", 0, "", ErrInvalid},
		{"abc", 0, "", ErrInvalid},
		{"", 0, "", ErrInvalid},
		{"1000000000000", 0, "", ErrOutOfRange},
		{"999999999999.9999", 9999999999999999, "999999999999.9999", nil},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if !errors.Is(err, c.err) {
			t.Fatalf("Parse(%q) err = %v, want %v", c.in, err, c.err)
		}
		if err != nil {
			continue
		}
		if got != c.want {
			t.Errorf("Parse(%q) = %d, want %d", c.in, got, c.want)
		}
		if s := got.String(); s != c.out {
			t.Errorf("String(%d) = %q, want %q", got, s, c.out)
		}
	}
}

func TestMul(t *testing.T) {
	if got := MustParse("1.25").Mul(3); got.String() != "3.75" {
		t.Fatalf("got %s", got)
	}
}

// TestChecked: Add, MulChecked and Sum agree with exact big-integer
// arithmetic wherever the result fits an int64 and report false wherever it
// does not.
func TestChecked(t *testing.T) {
	edges := []int64{0, 1, -1, 2, -2, 3, 10000, -10000, 1 << 31, -(1 << 31), 1<<32 + 1, 3037000499, 3037000500, -3037000500,
		1 << 62, -(1 << 62), math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1, math.MaxInt64 / 2, math.MinInt64 / 2,
		int64(MaxUnitCost), int64(MaxUnitCost) * MaxQuantity, 9999999999999999}
	fits := func(b *big.Int) bool { return b.IsInt64() }
	for _, x := range edges {
		for _, y := range edges {
			want := new(big.Int).Add(big.NewInt(x), big.NewInt(y))
			got, ok := Add(Amount(x), Amount(y))
			if ok != fits(want) || ok && int64(got) != want.Int64() {
				t.Errorf("Add(%d, %d) = %d, %v; exact %s", x, y, got, ok, want)
			}
			want = new(big.Int).Mul(big.NewInt(x), big.NewInt(y))
			got, ok = MulChecked(Amount(x), int(y))
			if ok != fits(want) || ok && int64(got) != want.Int64() {
				t.Errorf("MulChecked(%d, %d) = %d, %v; exact %s", x, y, got, ok, want)
			}
		}
	}
	if _, ok := Sum(MaxUnitCost, Amount(math.MaxInt64-int64(MaxUnitCost)), 1); ok {
		t.Error("Sum past int64 reported ok")
	}
	if s, ok := Sum(Amount(math.MaxInt64), 1, -2); ok {
		t.Errorf("Sum overflowing on the way reported ok: %d", s)
	}
	if s, ok := Sum(MustParse("1.25"), MustParse("2.50"), MustParse("-0.75")); !ok || s.String() != "3.00" {
		t.Errorf("Sum = %s, %v", s, ok)
	}
}

// TestBoundsFit is the arithmetic behind the bounds' documentation: the
// largest order the entry bounds admit (500 lines of MaxQuantity units at
// MaxUnitCost plus MaxUnitCost of per-unit shipping) costs 10^18 steps, which
// an int64 holds nine times over.
func TestBoundsFit(t *testing.T) {
	perUnit, ok := Add(MaxUnitCost, MaxUnitCost)
	if !ok {
		t.Fatal("per-unit cost overflows")
	}
	line, ok := MulChecked(perUnit, MaxQuantity)
	if !ok {
		t.Fatal("line cost overflows")
	}
	order, ok := MulChecked(line, 500)
	if !ok || order != 1_000_000_000_000_000_000 || order.String() != "100000000000000.00" {
		t.Fatalf("worst order = %s, %v", order, ok)
	}
	if int64(order) > math.MaxInt64/9 {
		t.Fatalf("worst order %d leaves less than a factor 9 of int64", order)
	}
	if MaxCommitted > math.MaxInt32 || MaxQuantity > MaxCommitted {
		t.Fatal("MaxCommitted must fit a 32-bit Int and hold a whole MaxQuantity")
	}
}
