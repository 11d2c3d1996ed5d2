// Package numbering renders fulfillment request numbers from a strategy's
// template. It is pure: the use cases decide what a clash or an over-long
// number means.
package numbering

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultTemplate is the account default.
const DefaultTemplate = "{order}-{seq}"

// MaxTemplateLength bounds a template so that numbers stay indexable.
const MaxTemplateLength = 200

// Fields are the values the tokens stand for.
type Fields struct {
	Order    string // {order}: the order number
	Ref      string // {ref}: the order's reference number
	Sequence int    // {seq}: 1-based count of requests ever made for the order
	Source   string // {source}: the source code
}

var tokens = []string{"{order}", "{ref}", "{seq}", "{source}"}

// Validate checks that a template uses only known tokens and no stray braces.
func Validate(template string) error {
	if strings.TrimSpace(template) == "" {
		return errors.New("the number template must not be empty")
	}
	if len(template) > MaxTemplateLength {
		return fmt.Errorf("the number template must be at most %d characters", MaxTemplateLength)
	}
	rest := template
	for _, t := range tokens {
		rest = strings.ReplaceAll(rest, t, "")
	}
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("unknown token in %q: the tokens are {order}, {ref}, {seq} and {source}", template)
	}
	return nil
}

// Render fills the template in.
func Render(template string, f Fields) string {
	return strings.NewReplacer(
		"{order}", f.Order,
		"{ref}", f.Ref,
		"{seq}", strconv.Itoa(f.Sequence),
		"{source}", f.Source,
	).Replace(template)
}
