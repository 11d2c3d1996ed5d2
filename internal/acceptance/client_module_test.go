package acceptance

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// clientModules are the only modules whose packages a partner builds with
// the typed client: the client itself and genqlient's runtime with what it
// imports.
var clientModules = []string{
	"github.com/Khan/genqlient",
	"github.com/frsvc/fulfillment/client",
	"github.com/google/uuid",
	"github.com/vektah/gqlparser/v2",
}

// TestClientModule builds and vets client/ as the module a partner gets:
// on its own (no workspace, go.mod resolved as it stands), requiring only
// genqlient's runtime and what that imports, never the server's modules.
func TestClientModule(t *testing.T) {
	dir := filepath.Join("..", "..", "client")
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatalf("client/ is not a module of its own: %v", err)
	}
	mf, err := modfile.Parse("client/go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Module.Mod.Path != "github.com/frsvc/fulfillment/client" {
		t.Fatalf("module path %q", mf.Module.Mod.Path)
	}
	for _, r := range mf.Require {
		if !slices.Contains(clientModules, r.Mod.Path) {
			t.Errorf("client/go.mod requires %s, which the client does not build with", r.Mod.Path)
		}
	}
	if mf.Go == nil || mf.Go.Version != "1.22.5" {
		t.Errorf("client/go.mod states go %v; the oldest it builds with is 1.22.5 (genqlient v0.8.1's)", mf.Go)
	}
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in client/: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("build", "./...")
	goCmd("vet", "./...")
	var built []string
	for _, m := range strings.Fields(goCmd("list", "-deps", "-test", "-f", "{{with .Module}}{{.Path}}{{end}}", "./...")) {
		if !slices.Contains(built, m) {
			built = append(built, m)
		}
	}
	slices.Sort(built)
	if !slices.Equal(built, clientModules) {
		t.Errorf("the client builds with the modules %v, want %v", built, clientModules)
	}
}
