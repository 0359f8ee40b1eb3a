# lambda-ai-proxy. `make run` serves the proxy locally, `make test` runs every
# test. The Go tools the tests and the benchmark use (staticcheck, the Lambda
# Runtime Interface Emulator, vegeta) are pinned in go.mod's tool directive
# and run as `go tool NAME`, so a fresh clone has the same versions with no
# install step; moto_server and cfn-lint come from the machine and their
# absence fails loudly rather than skipping tests.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
BIN := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

# The platforms `make cross` vets and builds for: a contributor on any of
# them can build and vet the tests.
CROSS_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64

LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'

CONFIG_PARAMETER ?= /aiproxy/config
KEY_PARAMETER    ?= /aiproxy/openai-api-key
CLIENT_KEY_PARAMETER ?= /aiproxy/client-key

.PHONY: help run demo demo-bedrock test unit lint cross tools check-tools fmt build bootstrap invoke put-config put-key put-client-key bench clean fuzz fuzz-brief

# `make` alone explains itself; each "## target: text" line is its entry.
.DEFAULT_GOAL := help

## help: list the targets (this)
help:
	@echo "lambda-ai-proxy: make <target>"
	@grep -E '^## [a-z-]+:' $(MAKEFILE_LIST) | sed 's/^## //' | \
	  awk '{ i = index($$0, ": "); printf "  %-15s %s\n", substr($$0, 1, i - 1), substr($$0, i + 2) }'
	@echo "First time? make demo (offline, no key), then: export OPENAI_API_KEY=sk-...; make run"

## run: serve the proxy on 127.0.0.1:8080 (AIPROXY_LISTEN); embedded default config, real OpenAI with OPENAI_API_KEY
run: build
	$(BIN)/aiproxy

## demo: fully offline: stub upstream, the proxy (on a free port), and an openai-go client streaming through it
demo: build
	$(GO) run ./infra/demo -bin $(BIN)/aiproxy

## demo-bedrock: offline too: the Bedrock stub (SigV4, event streams) behind model.provider: bedrock, streamed through openai-go
demo-bedrock: build
	$(GO) run ./infra/demo -bin $(BIN)/aiproxy -provider bedrock

# lambda.norpc here too: the local server has no use for Lambda's legacy RPC
# mode, and dropping it (and encoding/gob) shortens every start.
## build: the local binary, bin/aiproxy
build:
	CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -o $(BIN)/aiproxy ./functions/aiproxy

## test: everything CI runs: lint, cross (vet and compile for 6 platforms), template lint, unit (race detector), integration (moto SSM, Lambda emulator); ends "N passed, N failed"
# pkg/ runs once, under the race detector; everything else once, without it.
# internal/testenv/testsum prints each package as it ends, what is still
# running every 15 s, every failure's output, and the one-line summary.
test: check-tools lint cross fuzz-brief
	cfn-lint template.yaml
	@echo "go test: pkg/... with -race, then the rest (integration, Lambda emulator, moto); progress every 15 s"
	@r=0; { $(GO) test -json -count=1 -race ./pkg/... || r=1; \
	        $(GO) test -json -count=1 $$($(GO) list ./... | grep -v '/pkg/') || r=1; exit $$r; } \
	  | $(GO) run ./internal/testenv/testsum

## lint: gofmt, go vet, staticcheck (go tool staticcheck, pinned in go.mod)
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## cross: go vet (tests included) and compile every package for linux, darwin and windows on amd64 and arm64
# vet type-checks every package with its tests for the platform; go list
# -export compiles every package, commands included, as go build ./...
# does, short of linking. Both share the build cache: about 15 s warm on
# 2 cores (the first run on an empty cache also compiles the standard
# library and the dependencies for five more platforms: minutes). Linking
# the commands for six platforms (go build ./...) takes about 3 minutes
# more, uncached; CROSS_LINK=1 does it. A Linux-only facility goes in a
# *_linux.go file beside a !linux one that says what the other platforms
# do instead.
CROSS_LINK ?=
cross:
	@for p in $(CROSS_PLATFORMS); do \
	  echo "cross: $$p"; \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./...; \
	  if [ -n "$(CROSS_LINK)" ]; then GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./...; \
	  else GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) list -export ./... >/dev/null; fi; \
	done

## fmt: gofmt every Go file
fmt:
	gofmt -w $$(git ls-files '*.go')

## tools: build go.mod's pinned tools into the Go build cache (optional: go tool builds them on first use)
# Bump one with: go get -tool honnef.co/go/tools/cmd/staticcheck@vX.Y.Z
tools:
	@for t in staticcheck aws-lambda-rie vegeta; do echo "$$t: $$($(GO) tool -n $$t)"; done

# node and npm: test/messages and test/apis install Claude Code and the Codex
# CLI, pinned, with npm ci from their lock files (claudecode/, codex/; git
# ignores the node_modules) and run them through the binary, offline.
## check-tools: the machine's own parts the tests use; missing ones fail here, loudly
check-tools:
	@missing=""; \
	for t in moto_server cfn-lint git node npm; do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "ERROR: required tools missing:$$missing" >&2; \
	  echo "  moto_server: pip install 'moto[server]'   cfn-lint: pip install cfn-lint   node, npm: apt-get install nodejs npm (Node.js 20+)" >&2; \
	  exit 1; \
	fi

## bootstrap: the Lambda binary as SAM builds it (linux/arm64)
bootstrap:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(BIN)/lambda/bootstrap ./functions/aiproxy

# SAM's BuildMethod: makefile calls this with ARTIFACTS_DIR set.
build-AiProxyFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/aiproxy

## bench: added latency, streaming relay, cold start, memory, micro-benchmarks and provider paths -> docs/BENCHMARKS.md (not part of test; ~10 min)
bench: build
	bash test/bench/run.sh

## fuzz: every Go fuzz target in the module, FUZZTIME each (default 3s; make fuzz FUZZTIME=10m searches for real)
FUZZTIME ?= 3s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash test/fuzz.sh

# make test runs every fuzz target briefly: a translator that panics on a
# shape its seeds never had fails CI; the long search is make fuzz.
fuzz-brief:
	FUZZTIME=2s GO=$(GO) bash test/fuzz.sh

## put-config: validate CONFIG and store it in SSM (make put-config CONFIG=infra/examples/dynamic-model.yaml); refuses a route without key-auth unless PUT_CONFIG_FLAGS=-allow-open
put-config:
	@test -n "$(CONFIG)" || { echo "usage: make put-config CONFIG=path/to/config.yaml" >&2; exit 2; }
	$(GO) run ./infra/ssmput config -name $(CONFIG_PARAMETER) -file $(CONFIG) $(PUT_CONFIG_FLAGS)

## put-key: store the upstream API key, read from stdin, as a SecureString (make put-key < key.txt)
put-key:
	@$(GO) run ./infra/ssmput key -name $(KEY_PARAMETER)

## invoke: one event through bootstrap under the Lambda emulator and the stub (EVENT=events/x.json INVOKE_FLAGS=...)
# What `sam local invoke -e` does, without Docker. INVOKE_FLAGS are passed to
# infra/invoke: -env KEY=VAL (repeatable) sets the function's environment,
# -v shows the emulator's and the function's logs, -raw the answer as sent.
# The REST event as deployed (the template sets STREAM; the code's default
# is BUFFERED):
#   make invoke EVENT=events/rest-api.json INVOKE_FLAGS='-env AIPROXY_REST_RESPONSE_MODE=STREAM'
EVENT ?= events/function-url-stream.json
INVOKE_FLAGS ?=
invoke:
	CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(BIN)/host/bootstrap ./functions/aiproxy
	$(GO) run ./infra/invoke -bootstrap $(BIN)/host/bootstrap -event $(EVENT) -stub $(INVOKE_FLAGS)

## put-client-key: store the client key callers present (key-auth), read from stdin
put-client-key:
	@$(GO) run ./infra/ssmput key -name $(CLIENT_KEY_PARAMETER)

## clean: remove ./bin and .aws-sam
clean:
	rm -rf $(BIN) .aws-sam
