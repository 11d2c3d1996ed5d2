# The fulfillment request service. `make run` serves on the embedded SQLite
# default; `make test` runs every test (PostgreSQL too when TEST_DATABASE_URL
# is set, as CI does).

GO ?= go
TESTFLAGS ?=
GENERATED := ent schema graph client
# The typed client is a module of its own: `./...` at the root does not
# descend into it, so the targets below run in it too.
MODULES := . client

.PHONY: generate check-generated build run test lint bench bench-load playground-assets

# The playground's GraphiQL, React and ReactDOM bundles are committed under
# internal/playground/assets and embedded in the binary; the build never
# downloads them. `make playground-assets` refreshes them from the npm
# registry (needs npm and openssl), checking each tarball against the
# registry's integrity and writing the SRI hashes the page checks.
GRAPHIQL_VERSION ?= 3.8.3
REACT_VERSION ?= 18.3.1

generate:
	$(GO) generate ./...

# Regenerate (client/generated.go too: its go:generate line is in server.go),
# then fail if anything generated differs from what is committed, or if either
# module's go.mod or go.sum is not tidy.
check-generated: generate
	@for m in $(MODULES); do (cd $$m && $(GO) mod tidy -diff) || { echo "go.mod of $$m is not tidy: run 'go mod tidy' there"; exit 1; }; done
	@git diff --exit-code -- $(GENERATED) || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- $(GENERATED))" || { git status --short -- $(GENERATED); echo "generated files are not committed"; exit 1; }

build:
	$(GO) build -o bin/fulfillment .

run:
	$(GO) run . $(ARGS)

test:
	$(GO) test -count=1 -timeout 20m $(TESTFLAGS) ./...
	cd client && $(GO) test -count=1 -timeout 5m $(TESTFLAGS) ./...

lint:
	$(GO) vet ./...
	cd client && $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 100x ./internal/routing/

# Load benchmark: the nested orders page, GraphQL vs a raw-SQL baseline, on
# SQLite and PostgreSQL (127.0.0.1:5432); prints a markdown table. Not part of
# `make test`. Flags: make bench-load LOADTEST_FLAGS="-db sqlite -quick";
# two server processes on one PostgreSQL: LOADTEST_FLAGS="-db postgres -processes 2".
bench-load:
	$(GO) run ./internal/loadtest $(LOADTEST_FLAGS)

playground-assets:
	bash internal/playground/refresh-assets.sh $(GRAPHIQL_VERSION) $(REACT_VERSION)
