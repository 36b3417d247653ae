# Signet: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/signet
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
# make install DESTDIR=/tmp/pkg PREFIX=/usr: where the binary, unit and example config go.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
STATICCHECK_VERSION := v0.6.1
GOBIN := $(shell $(GO) env GOPATH)/bin
RUN_LISTEN ?= 127.0.0.1:5300
RUN_ADMIN ?= 127.0.0.1:8053

.PHONY: all build install run test test-deps lint vet staticcheck fmt bench bench-load bench-smoke bench-scale bench-cluster clean

all: build

# A static binary (no cgo, no libc), so it runs on any Linux of the same architecture.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/signet

# Installs the binary, the systemd unit (paths filled in) and the example configuration
# (never over an existing one).
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/signet
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/signet
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' deploy/signet.service > $(DESTDIR)$(UNITDIR)/signet.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/signet.service
	test -e $(DESTDIR)$(SYSCONFDIR)/signet/signet.yaml || install -m 0644 deploy/signet.yaml $(DESTDIR)$(SYSCONFDIR)/signet/signet.yaml

# Builds and starts the server on the bundled example zone, signed (keys under ./state).
run: build
	@echo "Query it with:  dig @127.0.0.1 -p 5300 www.example.test A +dnssec"
	@echo "DS records:     $(BIN) ds example.test. --state ./state"
	$(BIN) serve --listen $(RUN_LISTEN) --admin $(RUN_ADMIN) --state ./state --dnssec \
		--zone example.test.=testdata/example.test.zone \
		--zone signed.example.test.=testdata/signed.example.test.zone

# Installs what the tests need (Debian packages, staticcheck) and runs every test. The
# end-to-end tests (real binary, unbound, swtpm, real-time rollovers) run on their own after
# the unit tests, so that their timings do not compete with the race-detector builds.
test: test-deps lint
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v /e2e$$)
	$(GO) test -count=1 -timeout 20m ./e2e/

test-deps:
	bash scripts/install-test-deps.sh
	@test -x $(GOBIN)/staticcheck || GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: vet staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GOBIN)/staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Runs every native Go fuzz target for FUZZTIME each. `make test` runs their seed corpora (and
# every crasher a fuzzing run saved under testdata/fuzz, which stays as a regression test).
FUZZTIME ?= 30s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

# Runs Signet for SOAK_TIME under mixed dnsperf load (cached, random names, TCP, cookies,
# malformed) with zone reloads every 30 s and ZSK rollovers; fails if the server restarts, a
# query of the paced streams goes unanswered or RSS keeps growing. Not part of `make test`.
SOAK_TIME ?= 10m
soak: build
	$(GO) run ./bench/soak -signet $(BIN) -duration $(SOAK_TIME)

# Go micro-benchmarks of the hot path.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./signer/... ./zones/... ./server/... ./bench/...

# Side-by-side load test against Knot DNS, PowerDNS and NSD (installs them; minutes).
bench-load:
	bash bench/load/run.sh

bench-smoke:
	bash bench/load/run.sh --smoke

# A zone of a million names and ten thousand small zones: start, reload and memory, side by side
# with Knot DNS and NSD (minutes; not part of make test).
bench-scale:
	bash bench/scale/run.sh

# One Signet's answer rate as a single server and as a cluster follower and leader on a real
# etcd (dnsperf, alternating runs; minutes; not part of make test).
bench-cluster:
	bash bench/cluster/run.sh

clean:
	rm -rf bin
