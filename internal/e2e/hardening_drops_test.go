package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/frsvc/fulfillment/internal/app"
	"github.com/frsvc/fulfillment/internal/testdb"
)

// TestHardeningFileDrops: two accounts whose FILE sources name the same
// directory, and whose requests carry the same number, drop into folders of
// their own under the drop root, and neither replaces the other's file.
// Before, both wrote <directory>/1001-1.json relative to the server's
// working directory, the second over the first.
func TestHardeningFileDrops(t *testing.T) {
	testdb.Each(t, func(t *testing.T, a *app.App) {
		ka := newKit(t, a)
		root := ka.App.Config.FileDropRoot
		if !filepath.IsAbs(root) {
			t.Fatalf("the drop root %q is not an absolute path", root)
		}
		if a.Store.Postgres() == false {
			// Beside the SQLite file by default.
			if want := filepath.Join(filepath.Dir(hdSQLiteFile(t, a.Config.DatabaseURL)), "drops"); root != want {
				t.Errorf("the default drop root is %q, want %q beside the database", root, want)
			}
		}
		kb := &frKit{Env: ka.WithT(t)}
		kb.AdminKey = ka.NewAccount("Tenant B")

		drop := func(k *frKit, code string) (account int, frID, number string) {
			src := k.source(code, map[string]any{"connector": map[string]any{"kind": "FILE", "directory": "shared/in", "format": "JSON"}})
			k.stock(src, "A", 10, "2.00")
			o := k.order("1001", "PAID", kitLine{"A", 1})
			fr := k.mustCreate(o.ID, src, false)
			k.must("process", fr.ID, nil)
			if got := k.sendRun(); got["processed"] != 1 {
				t.Fatalf("send run of %s: %v", code, got)
			}
			if got := k.fr(fr.ID); got.Status != "PROCESSED" {
				t.Fatalf("request %s is %s (%v)", fr.ID, got.Status, got.FailureReason)
			}
			return k.Principal(k.AdminKey).AccountID, fr.ID, fr.Number
		}
		accA, frA, numA := drop(ka, "DROP-A")
		accB, frB, numB := drop(kb, "DROP-B")
		if numA != numB {
			t.Fatalf("the two requests are numbered %q and %q: the test needs one number", numA, numB)
		}
		for _, c := range []struct {
			account int
			fr      string
		}{{accA, frA}, {accB, frB}} {
			path := filepath.Join(root, fmt.Sprintf("account-%d", c.account), "shared", "in", numA+".json")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("account %d's drop: %v", c.account, err)
			}
			var doc struct{ ID int }
			if err := json.Unmarshal(b, &doc); err != nil || strconv.Itoa(doc.ID) != c.fr {
				t.Errorf("%s holds request %d (%v), want %s", path, doc.ID, err, c.fr)
			}
		}
		if _, err := os.Stat(filepath.Join(root, "shared")); err == nil {
			t.Errorf("a drop landed outside the account folders")
		}
		if _, err := os.Stat("shared"); err == nil {
			t.Errorf("a drop landed in the working directory")
			_ = os.RemoveAll("shared")
		}

		// Directories that would leave the account's folder, or that no
		// file system takes, are refused on create and on update.
		bad := map[string]string{
			"parent":           "../other",
			"parent inside":    "in/../../b",
			"parent at end":    "in/..",
			"absolute":         "/var/drop",
			"root":             "/",
			"backslash":        `in\..\..\etc`,
			"NUL":              "in\x00x",
			"control":          "in\nx",
			"over-long":        strings.Repeat("d", 256),
			"over-long nested": strings.Repeat("abcdefgh/", 30),
		}
		for name, dir := range bad {
			t.Run(name, func(t *testing.T) {
				k := ka.with(t)
				conn := map[string]any{"kind": "FILE", "directory": dir}
				res := k.try(`mutation($in: CreateSourceInput!) { createSource(input: $in) { id } }`,
					map[string]any{"in": map[string]any{"name": "Bad", "code": "BAD-" + name, "connector": conn}})
				if e := k.Err(res, "VALIDATION"); e.Field() != "input.connector.directory" {
					t.Errorf("create: field %q (%s)", e.Field(), e.Message)
				}
				src := k.source("OK-"+name, map[string]any{"connector": map[string]any{"kind": "FILE", "directory": "ok"}})
				res = k.try(`mutation($id: ID!, $c: ConnectorInput!) { updateSource(id: $id, input: {connector: $c}) { id } }`,
					map[string]any{"id": src, "c": conn})
				if e := k.Err(res, "VALIDATION"); e.Field() != "input.connector.directory" {
					t.Errorf("update: field %q (%s)", e.Field(), e.Message)
				}
			})
		}
		// A directory is stored cleaned.
		var out struct {
			CreateSource struct{ Connector struct{ Directory string } }
		}
		ka.Query(`mutation { createSource(input: {name: "Clean", code: "CLEAN", connector: {kind: FILE, directory: " ./out//edi/ "}}) {
			connector { directory } } }`, nil, &out)
		if got := out.CreateSource.Connector.Directory; got != "out/edi" {
			t.Errorf("directory stored as %q, want out/edi", got)
		}
	})
}

// hdSQLiteFile is the path of the SQLite file of a file: URL.
func hdSQLiteFile(t *testing.T, rawURL string) string {
	t.Helper()
	p, _, _ := strings.Cut(strings.TrimPrefix(rawURL, "file:"), "?")
	return strings.ReplaceAll(p, "%23", "#")
}
