# l402: make help lists the targets.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
REGTEST  := $(GO) run ./internal/regtest/cmd/l402-regtest

# How long each fuzz target runs under `make fuzz`.
FUZZTIME ?= 60s

# go test's own deadline for the itests: the first run builds lnd.
ITEST_TIMEOUT ?= 45m

.PHONY: help build install install-check test deps unit race itest regtest-bins fuzz bench bench-load lint regtest demo proto clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-13s %s\n", $$1, $$2}'

# l402 needs no cgo (SQLite is modernc's, in Go): a static binary starts
# without the dynamic loader and libc, a few per cent sooner.
build: ## build bin/l402
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/l402 ./cmd/l402

# go install puts l402 in $(go env GOBIN), or in the bin directory of the
# first GOPATH entry ($HOME/go/bin by default) when GOBIN is unset.
install: ## go install l402, with build's version and commit, into GOBIN or GOPATH/bin
	CGO_ENABLED=0 $(GO) install -ldflags "$(LDFLAGS)" ./cmd/l402
	@dir="$$($(GO) env GOBIN)"; \
		[ -n "$$dir" ] || dir="$$($(GO) env GOPATH | cut -d: -f1)/bin"; \
		echo "installed $$dir/l402"

install-check: ## prove `go install github.com/l402/l402/cmd/l402@VERSION` works from a clean GOPATH
	@bash scripts/install-check.sh

# The unit tests run last, so that go test's closing lines report every
# package's own tests.
test: deps lint itest race ## everything CI runs: lint, itests on regtest, unit tests under -race

deps: ## install make, gcc and libc6-dev (for -race), Postgres, curl, jq, perl from Debian's packages when missing (as root)
	@bash scripts/deps.sh

unit: ## unit tests, fast
	$(GO) test ./...

race: ## unit tests with the race detector
	$(GO) test -race -count 1 ./...

regtest-bins: ## build the pinned btcd and lnd into the cache (once)
	$(REGTEST) build

itest: regtest-bins ## itests against real btcd and lnd on regtest, under -race
	$(GO) test -race -tags itest -run Itest -count 1 -v -timeout $(ITEST_TIMEOUT) ./...
	$(GO) test -tags itest -run '^TestItestLNCRestartAndWrongPhrase$$' -count 1 -v -timeout $(ITEST_TIMEOUT) ./cmd/l402

fuzz: ## run every fuzz target of every package for FUZZTIME (default 60s each)
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$t"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) || exit 1; \
		done; \
	done

bench: ## benchmarks; each Baseline benchmark is the reference for its neighbour
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./...

# make bench-load MODE=issuance (regtest lnd) or MODE=rss DURATION=10m;
# BEFORE=path/to/l402 alternates another build (main's) with this one.
MODE     ?=
DURATION ?=
BEFORE   ?=
ROUNDS   ?= 3

bench-load: ## l402 against a bare proxy as whole processes (wrk, h2load, gRPC), fetch against curl, start-up
	@bash scripts/deps.sh --bench
	$(GO) run ./internal/benchload/cmd/l402-benchload -rounds $(ROUNDS) \
		$(if $(MODE),-mode $(MODE)) $(if $(DURATION),-duration $(DURATION)) \
		$(if $(BEFORE),-before $(BEFORE))

lint: ## go vet and gofmt
	$(GO) vet ./...
	$(GO) vet -tags itest ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

regtest: ## bring up btcd, alice and bob with a channel; print the environment; Ctrl-C stops
	$(REGTEST) up

demo: ## a real regtest payment, alice to bob, step by step
	$(REGTEST) demo

proto: ## regenerate internal/lightning/lndrpc, internal/lnc/hashmailpb, internal/regtest/regtestrpc, adminrpc and pricesrpc, the binary's registering their types on first use (needs protoc and protoc-gen-go v1.33.0)
	cd internal/lightning/lndrpc && protoc --go_out=. --go_opt=paths=source_relative lndrpc.proto
	cd internal/lnc/hashmailpb && protoc --go_out=. --go_opt=paths=source_relative hashmailpb.proto
	cd internal/regtest/regtestrpc && protoc --go_out=. --go_opt=paths=source_relative regtestrpc.proto
	go generate ./internal/adminrpc ./internal/prices
	go run ./scripts/lazyproto internal/lightning/lndrpc/lndrpc.pb.go internal/adminrpc/admin.pb.go internal/prices/pricesrpc/prices.pb.go internal/lnc/hashmailpb/hashmailpb.pb.go

clean: ## remove build output (the regtest binary cache is kept)
	rm -rf bin
