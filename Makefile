# bot-bottle — run `make help` for the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO          ?= go
# The Go that builds and tests everything: this machine's go1.26.8 has
# net/http and crypto fixes missing (govulncheck). The go command fetches
# this release from the module proxy once (about 76 MB).
export GOTOOLCHAIN := go1.27.3
BIN         := bin
TOOLS       := $(CURDIR)/.bin
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS     := -s -w -X github.com/bot-bottle/bot-bottle/internal/shared/version.Version=$(VERSION)
CMDS        := bot-bottle egress gitgate supervise sidecar-init demo-upstream netguard probe fake-agent
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
GOVULNCHECK_VERSION := v1.9.0
GOVULNCHECK := $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION)
# The vulnerability database, built from the golang.org/x/vulndb module
# (vuln.go.dev is not reachable here). Bump the version to pick up newer
# reports: go list -m -versions golang.org/x/vulndb shows none, so take the
# newest pseudo-version 'go list -m golang.org/x/vulndb@master' resolves.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB      := $(TOOLS)/vulndb-$(VULNDB_VERSION)
FUZZTIME    ?= 1m
EXAMPLES    := examples

.PHONY: help
help: ## show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every command into bin/ (static, version stamped)
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

.PHONY: test
test: lint docker-tools ## run every test (lint included; the Docker tests build the images they need)
	$(GO) test -race -count=1 -timeout 20m ./...

# The Docker tests need docker compose v2; build it when an engine is here
# and the plugin is not. Without an engine those tests skip, saying why.
.PHONY: docker-tools
docker-tools:
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory compose-plugin; \
	  else echo "no Docker engine reachable: the Docker tests (images, e2e) will skip"; fi

.PHONY: lint
lint: $(STATICCHECK) $(GOVULNCHECK) $(VULNDB) ## gofmt, go vet, staticcheck, govulncheck, go.mod tidiness
	@unformatted=$$(gofmt -l $$($(GO) list -f '{{.Dir}}' ./...)); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change these files (run: gofmt -w FILE): $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...
	@# staticcheck cannot yet read go1.27's standard library (generic
	@# methods); it checks our go1.26 code against this machine's own Go.
	GOTOOLCHAIN=local $(STATICCHECK) ./...
	$(GOVULNCHECK) -db file://$(VULNDB) ./...
	$(GO) mod tidy -diff

$(STATICCHECK):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(TOOLS)/staticcheck $@

$(GOVULNCHECK):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	mv $(TOOLS)/govulncheck $@

$(VULNDB):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION)
	rm -rf $@.tmp
	$(TOOLS)/indexdb -vulns "$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')/data/osv" -out $@.tmp
	mv $@.tmp $@

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 1m)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

.PHONY: bench
bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: bench-egress
bench-egress: ## egress vs no proxy vs mitmproxy under HTTPS load (installs mitmproxy if missing)
	@command -v mitmdump >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y mitmproxy || { apt-get update && apt-get install -y mitmproxy; }; }
	$(GO) run ./bench/egress $(BENCH_EGRESS_FLAGS)

.PHONY: bench-up
bench-up: ## time bot-bottle up (to a provisioned agent) and down on the engine, medians of 5
	$(GO) run ./bench/up $(BENCH_UP_FLAGS)

.PHONY: bench-gitgate
bench-gitgate: ## gitgate: clone through the gate vs straight from SSH, 500-commit push, scan MB/s
	$(GO) run ./bench/gitgate $(BENCH_GITGATE_FLAGS)

COMPOSE_VERSION := v2.28.1

.PHONY: compose-plugin
compose-plugin: ## build the docker compose v2 plugin from the Go module proxy when docker compose is missing
	@if docker compose version >/dev/null 2>&1; then docker compose version; else \
	  echo "docker compose v2 is missing: building $(COMPOSE_VERSION) from the Go module proxy (about 3 minutes)"; \
	  dir=$$($(GO) mod download -json github.com/docker/compose/v2@$(COMPOSE_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  mkdir -p $(HOME)/.docker/cli-plugins; \
	  (cd "$$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod $(GO) build -trimpath \
	    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$(COMPOSE_VERSION)" \
	    -o $(HOME)/.docker/cli-plugins/docker-compose ./cmd); \
	  docker compose version; fi

.PHONY: images
images: ## build the offline images bot-bottle/*:local (TAG=x to retag, FORCE=1 to rebuild; images/README.md)
	GO=$(GO) VERSION=$(VERSION) images/build.sh

.PHONY: demo
demo: ## run a real bottle on Docker, offline, and narrate what it allows and refuses
	@# The three builds overlap: docker's steps leave the CPU idle at times.
	$(MAKE) --no-print-directory -j3 build compose-plugin images
	$(BIN)/bot-bottle --home $(EXAMPLES) validate
	$(BIN)/bot-bottle demo

.PHONY: clean
clean: ## remove build outputs and installed tools
	rm -rf $(BIN) $(TOOLS)
