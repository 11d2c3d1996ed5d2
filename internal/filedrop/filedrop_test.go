package filedrop_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/filedrop"
)

func TestCleanDir(t *testing.T) {
	for in, want := range map[string]string{
		"in":                                    "in",
		" out/edi/ ":                            "out/edi",
		"./a//b/./c":                            "a/b/c",
		".":                                     ".",
		"./":                                    ".",
		"ünïcode/dröps":                         "ünïcode/dröps",
		"a..b/..c/d..":                          "a..b/..c/d..",
		".hidden":                               ".hidden",
		strings.Repeat("d", filedrop.MaxDirLen): strings.Repeat("d", filedrop.MaxDirLen),
	} {
		got, err := filedrop.CleanDir(in)
		if err != nil || got != want {
			t.Errorf("CleanDir(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "   ", "..", "../x", "a/../b", "a/..", "a/../../b", "/", "/var/drop", "//host/share",
		`a\b`, `..\x`, `C:\drops`, "a\x00b", "a\nb", "a\tb", "a\x7fb", "\xff\xfe",
		strings.Repeat("d", filedrop.MaxDirLen+1),
	} {
		if got, err := filedrop.CleanDir(in); err == nil {
			t.Errorf("CleanDir(%q) = %q, want a refusal", in, got)
		}
	}
}

func TestWrite(t *testing.T) {
	root := filepath.Join(t.TempDir(), "drops")
	at := func(acct, dir, name string) string { return filepath.Join(root, acct, filepath.FromSlash(dir), name) }

	// Two accounts, one directory, one name: two files.
	for id, data := range map[int]string{1: "one", 2: "two"} {
		if again, err := filedrop.Write(root, id, "in", "1001-1.json", []byte(data)); err != nil || again {
			t.Fatalf("account %d: again %v, %v", id, again, err)
		}
	}
	for acct, want := range map[string]string{"account-1": "one", "account-2": "two"} {
		if b, err := os.ReadFile(at(acct, "in", "1001-1.json")); err != nil || string(b) != want {
			t.Errorf("%s holds %q, %v", acct, b, err)
		}
	}
	// The same document again changes nothing; another one is refused.
	if again, err := filedrop.Write(root, 1, "in", "1001-1.json", []byte("one")); err != nil || !again {
		t.Errorf("same again: again %v, %v", again, err)
	}
	if _, err := filedrop.Write(root, 1, "in", "1001-1.json", []byte("uno")); !errors.Is(err, filedrop.ErrExists) {
		t.Errorf("different content: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(at("account-1", "in", "1001-1.json")); string(b) != "one" {
		t.Errorf("overwritten with %q", b)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "account-1", "in"))
	if len(entries) != 1 {
		t.Errorf("account-1/in holds %d entries, want the one file (no temporary left)", len(entries))
	}

	// A directory no longer accepted, and symbolic links out.
	for _, dir := range []string{"../account-2/in", "/tmp", "a/../.."} {
		if _, err := filedrop.Write(root, 1, dir, "x.json", []byte("x")); !errors.Is(err, filedrop.ErrBadDir) {
			t.Errorf("dir %q: %v, want ErrBadDir", dir, err)
		}
	}
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "account-1", "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "account-2"), filepath.Join(root, "account-1", "neighbour")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "account-3")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		acct int
		dir  string
	}{{1, "out"}, {1, "out/in"}, {1, "neighbour/in"}, {3, "in"}} {
		if _, err := filedrop.Write(root, c.acct, c.dir, "x.json", []byte("x")); !errors.Is(err, filedrop.ErrEscapes) {
			t.Errorf("account %d dir %q: %v, want ErrEscapes", c.acct, c.dir, err)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written outside: %v", entries)
	}
	if _, err := os.Stat(at("account-2", "in", "x.json")); err == nil {
		t.Errorf("written into another account's folder")
	}
	// A symbolic link that stays inside the account's folder is followed.
	if err := os.Symlink("in", filepath.Join(root, "account-1", "alias")); err != nil {
		t.Fatal(err)
	}
	if _, err := filedrop.Write(root, 1, "alias", "2.json", []byte("2")); err != nil {
		t.Errorf("link inside: %v", err)
	}
}
