// Package wording makes messages read as English: plurals and articles.
package wording

import (
	"strconv"
	"strings"
)

// Count is n and the noun, plural unless n is 1: "1 line", "3 lines".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// IsAre is "is" for 1 and "are" otherwise.
func IsAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// A is word with its indefinite article, by its first letter: "an ADMIN
// key", "a SOURCE key".
func A(word string) string {
	if word != "" && strings.ContainsRune("AEIOUaeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}
