package frstatus

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMarshalGQLIsJSON(t *testing.T) {
	for _, s := range []string{string(Processing), "a\"b\\c\x00\u2028\U000e0001"} {
		var b strings.Builder
		Status(s).MarshalGQL(&b)
		var back string
		if err := json.Unmarshal([]byte(b.String()), &back); err != nil || back != s {
			t.Fatalf("%q marshals to %s: %v", s, b.String(), err)
		}
	}
}
