package idempotency

import "testing"

// TestRequestHashKeepsNumbers: the hash sees numbers as written. 2^53+1
// and 2^53 are one float64, and were one request; they are two now, as are
// numbers past int64 and decimals that differ in the last digit. Key order
// and white space still do not count.
func TestRequestHashKeepsNumbers(t *testing.T) {
	const q = `"query":"mutation($n: Int!) { x(n: $n) }"`
	body := func(vars string) []byte { return []byte(`{` + q + `,"variables":` + vars + `}`) }
	mustHash := func(b []byte) string {
		t.Helper()
		h, err := RequestHash(b, 7)
		if err != nil {
			t.Fatalf("hash %s: %v", b, err)
		}
		return h
	}
	for _, pair := range [][2]string{
		{`{"n":9007199254740993}`, `{"n":9007199254740992}`},
		{`{"in":{"lines":[{"quantity":9007199254740993}]}}`, `{"in":{"lines":[{"quantity":9007199254740992}]}}`},
		{`{"n":18446744073709551617}`, `{"n":18446744073709551616}`},
		{`{"n":0.30000000000000001}`, `{"n":0.3}`},
	} {
		if a, b := mustHash(body(pair[0])), mustHash(body(pair[1])); a == b {
			t.Errorf("%s and %s hash the same", pair[0], pair[1])
		}
	}
	same := [][2][]byte{
		{body(`{"a":1,"b":{"c":9007199254740993,"d":"x"}}`), body(`{ "b" : { "d":"x", "c":9007199254740993 }, "a":1 }`)},
		{[]byte(`{` + q + `,"variables":{"n":1}}`), []byte(`{"variables":{"n":1},` + q + `}`)},
	}
	for _, pair := range same {
		if a, b := mustHash(pair[0]), mustHash(pair[1]); a != b {
			t.Errorf("%s and %s hash differently", pair[0], pair[1])
		}
	}
	if a, b := mustHash(body(`{"n":1}`)), mustHash(body(`{"n":1}`)); a != b {
		t.Error("one body, two hashes")
	}
	if a, _ := RequestHash(body(`{"n":1}`), 8); a == mustHash(body(`{"n":1}`)) {
		t.Error("the API key does not count")
	}
	for _, bad := range []string{`{"query":`, `{"query":"x"} {"query":"y"}`, `[1]`} {
		if _, err := RequestHash([]byte(bad), 7); err == nil {
			t.Errorf("%s hashed", bad)
		}
	}
}
