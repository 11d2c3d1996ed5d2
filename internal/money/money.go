// Package money is the service's exact money type: an integer count of
// ten-thousandths of the account's currency unit. Binary floating point never
// touches a price; arithmetic is plain int64 addition and multiplication, which
// is exact and fast enough for the routing engine's inner loop.
package money

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/frsvc/fulfillment/internal/scalar"
)

// Scale is the number of decimal places an Amount carries.
const Scale = 4

// unit is 10^Scale: the number of Amount steps in one currency unit.
const unit = 10000

// Amount is an exact amount of money in ten-thousandths of a currency unit.
type Amount int64

// ErrTooPrecise is returned by Parse for a value with more than Scale decimals.
var ErrTooPrecise = errors.New("at most 4 decimal places are allowed")

// ErrInvalid is returned by Parse for text that is not a decimal number.
var ErrInvalid = errors.New("not a decimal number")

// ErrOutOfRange is returned by Parse for a value too large to hold.
var ErrOutOfRange = errors.New("amount out of range")

// maxUnits bounds parsed amounts so that sums of many quantities times prices
// stay far from int64 overflow: 10^12 units is a trillion of the currency.
var maxUnits = decimal.New(1, 12)

// Parse reads a decimal string such as "12.50" or "-3". It refuses exponents
// and more than four decimal places rather than rounding: a price that changed
// on the way in is worse than an error.
func Parse(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "eE") {
		return 0, ErrInvalid
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, ErrInvalid
	}
	if d.Abs().GreaterThanOrEqual(maxUnits) {
		return 0, ErrOutOfRange
	}
	scaled := d.Shift(Scale)
	if !scaled.Equal(scaled.Truncate(0)) {
		return 0, ErrTooPrecise
	}
	return Amount(scaled.IntPart()), nil
}

// MustParse is Parse for constants in tests and seed data; it panics on error.
func MustParse(s string) Amount {
	a, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("money.MustParse(%q): %v", s, err))
	}
	return a
}

// FromUnits returns n whole currency units.
func FromUnits(n int64) Amount { return Amount(n * unit) }

// The bounds of what may enter the service. Every price, cost and fee an
// input carries is at most MaxUnitCost and every quantity at most
// MaxQuantity, so that the largest order the service accepts stays exact:
// 500 lines (the order limit) of MaxQuantity units, each priced at
// MaxUnitCost plus a per-unit shipping cost of MaxUnitCost, cost
// 500 × 10^6 × 2 × 10^5 = 10^14 currency units, which is 10^18 steps of
// 0.0001, a ninth of what an int64 holds (9.2 × 10^18) and within the
// routing engine's working range (routing.MaxCost, 1.15 × 10^18), leaving
// room for the fixed fees of every source a plan uses (2 × 10^9 steps
// each). A bound ten times higher (1,000,000.0000) would let that order
// reach 10^19 steps, past int64; so amounts stop at 100,000.0000.
const (
	// MaxUnitCost is the largest unit cost, unit price or source fee
	// (dropship fee, shipping base and per-unit cost) an input may carry:
	// 100,000.0000.
	MaxUnitCost = Amount(100_000 * unit)
	// MaxQuantity is the largest quantity an input may carry: inventory on
	// hand, an order line, an item of a request, a shipment or a cancellation.
	MaxQuantity = 1_000_000
	// MaxCommitted is the most units one inventory row may have reserved.
	// Without overcommit a reservation never exceeds the quantity on hand
	// (at most MaxQuantity); overcommitted requests stop here, so committed
	// and available (quantity − committed) stay within a 32-bit integer,
	// GraphQL's Int, and far within every column that holds them.
	MaxCommitted = 1_000_000_000
)

// Mul returns a times the integer quantity q, unchecked: for callers whose
// operands are already known to be in range (the routing engine checks its
// whole problem once, see routing.CheckRange). Anything else uses MulChecked.
func (a Amount) Mul(q int) Amount { return a * Amount(q) }

// Add returns a + b; ok is false, and the sum meaningless, if it does not
// fit an int64.
func Add(a, b Amount) (sum Amount, ok bool) {
	s := a + b
	// Overflow iff both operands have the same sign and the sum has the other.
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		return 0, false
	}
	return s, true
}

// MulChecked returns a × q; ok is false if the product does not fit an
// int64.
func MulChecked(a Amount, q int) (product Amount, ok bool) {
	if a == 0 || q == 0 {
		return 0, true
	}
	b := Amount(q)
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}

// Sum adds up amounts; ok is false if the total, or any partial sum on the
// way, does not fit an int64.
func Sum(xs ...Amount) (total Amount, ok bool) {
	for _, x := range xs {
		if total, ok = Add(total, x); !ok {
			return 0, false
		}
	}
	return total, true
}

// Decimal converts to shopspring/decimal for callers that need it.
func (a Amount) Decimal() decimal.Decimal { return decimal.New(int64(a), -Scale) }

// String formats with at least two decimals and no trailing zeros beyond
// them: 12.5 → "12.50", 1.2345 → "1.2345", 0 → "0.00".
func (a Amount) String() string {
	return trim(a.Decimal().StringFixed(Scale))
}

func trim(s string) string {
	dot := strings.IndexByte(s, '.')
	end := len(s)
	for end > dot+3 && s[end-1] == '0' {
		end--
	}
	return s[:end]
}

// Value stores an Amount as its integer count of ten-thousandths.
func (a Amount) Value() (driver.Value, error) { return int64(a), nil }

// Scan reads an Amount stored by Value.
func (a *Amount) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*a = Amount(v)
	case nil:
		*a = 0
	default:
		return fmt.Errorf("money: cannot scan %T", src)
	}
	return nil
}

// MarshalGQL writes the amount as a JSON string ("12.50"), so that no client
// parses it into a binary float on the way.
func (a Amount) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, `"`+a.String()+`"`) // digits, a sign and a point: nothing to escape
}

// UnmarshalGQL reads a Decimal scalar. Only strings are accepted: a JSON
// number has usually been through a float already.
func (a *Amount) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("a Decimal is sent as a string such as \"12.50\", not as %s", scalar.Describe(v))
	}
	p, err := Parse(s)
	if err != nil {
		return fmt.Errorf("Decimal %q: %w", s, err)
	}
	*a = p
	return nil
}
