package acceptance

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock returns the README's fenced code block of the given language
// whose first line starts with first, or fails the test.
func readmeBlock(t *testing.T, lang, first string) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?ms)^```"+regexp.QuoteMeta(lang)+"\n(.*?)^```$").FindAllStringSubmatch(string(readme), -1)
	for _, b := range blocks {
		if strings.HasPrefix(b[1], first) {
			return b[1]
		}
	}
	t.Fatalf("the README has no %s block starting with %q", lang, first)
	return ""
}

// TestFrontEndCodegen follows the README's Front ends section as a
// TypeScript front end would: its npm install, its codegen.yml against the
// committed schema, then tsc with its tsconfig.json (verbatimModuleSyntax on)
// over a module that uses the generated types. Skipped when node or npm is
// missing, or when the npm registry cannot be reached.
func TestFrontEndCodegen(t *testing.T) {
	if testing.Short() {
		t.Skip("installs packages from npm")
	}
	for _, tool := range []string{"node", "npm", "npx"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	install := strings.TrimSpace(readmeBlock(t, "sh", "npm install"))
	codegen := readmeBlock(t, "yaml", "# codegen.yml")
	tsconfig := readmeBlock(t, "json", "// tsconfig.json")
	if !strings.Contains(tsconfig, `"verbatimModuleSyntax": true`) {
		t.Fatalf("the README's tsconfig.json does not turn verbatimModuleSyntax on:\n%s", tsconfig)
	}

	// ../fulfillment is this repository, as the README's schema path has it.
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(root, filepath.Join(dir, "fulfillment")); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "frontend")
	files := map[string]string{
		"package.json":       `{"name": "frontend", "private": true, "type": "module"}` + "\n",
		"codegen.yml":        codegen,
		"tsconfig.json":      tsconfig,
		"src/orders.graphql": "query RecentOrders($first: Int!) {\n  orders(first: $first, orderBy: {field: CREATED_AT, direction: DESC}) {\n    totalCount\n    edges { node { id orderNumber status lines { sku quantity unitPrice } } }\n  }\n}\n",
		"src/main.ts": `import { RecentOrdersDocument } from "./gql/graphql";
import type { RecentOrdersQuery } from "./gql/graphql";

export const document = RecentOrdersDocument;
export function numbers(data: RecentOrdersQuery): string[] {
  return (data.orders.edges ?? []).flatMap((e) => (e?.node ? [e.node.orderNumber] : []));
}
// Decimal is a string: money never passes through a float.
export const firstPrice = (data: RecentOrdersQuery): string | undefined =>
  data.orders.edges?.[0]?.node?.lines?.[0]?.unitPrice;
`,
	}
	for name, body := range files {
		p := filepath.Join(app, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "npm_config_audit=false", "npm_config_fund=false", "npm_config_update_notifier=false")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("bash", "-c", install); err != nil {
		if regexp.MustCompile(`ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|ENETUNREACH`).MatchString(out) {
			t.Skipf("the npm registry cannot be reached:\n%s", out)
		}
		// The README pins the packages it names; their own dependencies
		// resolve to what the registry serves that day, and a registry (or
		// mirror) that lists a version it cannot serve is its state, not the
		// README's: skipped, with npm's words, rather than failing the suite.
		if regexp.MustCompile(`ETARGET|notarget|E50[0-9]\b`).MatchString(out) {
			t.Skipf("the npm registry cannot serve a dependency of the README's packages:\n%s", out)
		}
		t.Fatalf("%s: %v\n%s", install, err, out)
	}
	if out, err := run("npx", "--no-install", "graphql-codegen", "--config", "codegen.yml"); err != nil {
		t.Fatalf("graphql-codegen: %v\n%s", err, out)
	}
	if out, err := run("npx", "--no-install", "tsc", "-p", "."); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("tsc fails on the generated code with the README's tsconfig.json:\n%s", out)
		}
		t.Fatal(err)
	}
}
