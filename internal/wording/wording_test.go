package wording

import "testing"

func TestWording(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Count(1, "line"), "1 line"}, {Count(0, "line"), "0 lines"}, {Count(3, "line"), "3 lines"},
		{IsAre(1), "is"}, {IsAre(2), "are"}, {IsAre(0), "are"},
		{A("ADMIN key"), "an ADMIN key"}, {A("READ_ONLY key"), "a READ_ONLY key"}, {A("SOURCE key"), "a SOURCE key"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
