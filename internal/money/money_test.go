package money

import (
	"errors"
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
