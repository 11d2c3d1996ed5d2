package numbering

import "testing"

func TestRender(t *testing.T) {
	cases := []struct {
		tpl  string
		want string
	}{
		{DefaultTemplate, "1001-3"},
		{"{source}/{order}/{seq}", "ACME/1001/3"},
		{"FR-{ref}-{seq}", "FR-R-9-3"},
		{"static", "static"},
	}
	for _, c := range cases {
		if got := Render(c.tpl, Fields{Order: "1001", Ref: "R-9", Sequence: 3, Source: "ACME"}); got != c.want {
			t.Errorf("Render(%q) = %q, want %q", c.tpl, got, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, ok := range []string{DefaultTemplate, "{source}-{order}-{seq}", "x{ref}"} {
		if err := Validate(ok); err != nil {
			t.Errorf("Validate(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "  ", "{orders}-{seq}", "{seq", "a}b"} {
		if err := Validate(bad); err == nil {
			t.Errorf("Validate(%q) accepted", bad)
		}
	}
}
