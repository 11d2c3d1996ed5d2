package address

import "testing"

func TestCountries(t *testing.T) {
	if n := len(countries); n != 249 {
		t.Fatalf("%d codes, ISO 3166-1 assigns 249", n)
	}
	for _, c := range []string{"US", "DE", "GB", "FR", "JP", "BR"} {
		if !ValidCountry(c) {
			t.Errorf("%s refused", c)
		}
	}
	for _, c := range []string{"", "us", "UK", "XX", "USA", "EU"} {
		if ValidCountry(c) {
			t.Errorf("%q accepted", c)
		}
	}
}
