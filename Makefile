# flowproof: `make help` lists the targets.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.Version=$(VERSION)
# A count, not a duration: a duration races the fuzz coordinator's shutdown in
# Go 1.26 and fails without a finding (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 100000x
# FuzzReader reads each input twice, with two buffer sizes, and FuzzOpenEvidence
# writes a directory per input: fewer executions.
FUZZTIME_READER ?= 20000x
GO ?= go
# The S3-compatible server of the object storage tests (internal/s3test),
# built from its Go module into bin/, never added to go.mod.
VERSITYGW_VERSION := v1.8.0

.PHONY: help build release demo test unit duckdb deploy fuzz bench gobench check clean versitygw

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/flowproof (static, no cgo)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/flowproof ./cmd/flowproof

release: ## build bin/flowproof without the demo (-tags nodemo: no Kubeshark stand-in linked)
	CGO_ENABLED=0 $(GO) build -trimpath -tags nodemo -ldflags "$(LDFLAGS)" -o bin/flowproof ./cmd/flowproof

demo: build ## run the whole pipeline (L7 and its cross-check included) on the built-in sample captures into flowproof-demo/
	./bin/flowproof demo -o flowproof-demo

test: versitygw check unit duckdb deploy fuzz gobench ## everything CI runs
# Under make test the object storage tests fail, not skip, without versitygw.
test: export FLOWPROOF_REQUIRE_S3 := 1

versitygw: ## install the S3 test server (versitygw $(VERSITYGW_VERSION), pinned) into bin/
	@$(GO) version -m bin/versitygw 2>/dev/null | grep -Eq 'mod[[:space:]]+github.com/versity/versitygw[[:space:]]+$(VERSITYGW_VERSION)[[:space:]]' || \
		{ echo "installing versitygw $(VERSITYGW_VERSION) into bin/"; GOBIN=$(CURDIR)/bin $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION); }

check: ## gofmt, go vet (the bench tools in testdata too), go mod tidy must leave the tree clean
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./... ./testdata/bench/...
	CGO_ENABLED=0 $(GO) build -tags nodemo -o /dev/null ./cmd/flowproof
	$(GO) mod tidy -diff
	cd report/duckdbtest && $(GO) mod tidy -diff
	cd deploy/deploytest && $(GO) mod tidy -diff

unit: ## unit, conformance and CLI tests with the race detector
	$(GO) test -race -count=1 ./...

duckdb: ## read flows.parquet back with real DuckDB (own module: cgo stays out of the binary)
	cd report/duckdbtest && $(GO) test -count=1 ./...

deploy: ## check deploy/ (Kubernetes manifests, Helm chart, Dockerfile) against the API types (own module: Kubernetes stays out of the binary)
	cd deploy/deploytest && $(GO) test -count=1 ./...

fuzz: ## run every fuzz target briefly (a fixed number of executions each)
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME_READER) ./ingest
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeTable$$' -fuzztime $(FUZZTIME) ./analyze
	$(GO) test -run '^$$' -fuzz '^FuzzFold$$' -fuzztime $(FUZZTIME) ./analyze
	$(GO) test -run '^$$' -fuzz '^FuzzIDSymmetric$$' -fuzztime $(FUZZTIME) ./analyze/communityid
	$(GO) test -run '^$$' -fuzz '^FuzzConn$$' -fuzztime $(FUZZTIME) ./analyze/l7/http
	$(GO) test -run '^$$' -fuzz '^FuzzParseFields$$' -fuzztime $(FUZZTIME) ./analyze/l7/http
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./analyze/l7/dns
	$(GO) test -run '^$$' -fuzz '^FuzzHello$$' -fuzztime $(FUZZTIME) ./analyze/l7/tls
	$(GO) test -run '^$$' -fuzz '^FuzzDir$$' -fuzztime $(FUZZTIME) ./analyze/l7/stream
	$(GO) test -run '^$$' -fuzz '^FuzzEngine$$' -fuzztime $(FUZZTIME_READER) ./analyze/l7
	$(GO) test -run '^$$' -fuzz '^FuzzParseResult$$' -fuzztime $(FUZZTIME) ./ingest/kubeshark
	$(GO) test -run '^$$' -fuzz '^FuzzParseAnswers$$' -fuzztime $(FUZZTIME) ./ingest/kubeshark
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./ingest/kubeshark/apicalls
	$(GO) test -run '^$$' -fuzz '^FuzzOpenEvidence$$' -fuzztime $(FUZZTIME_READER) ./ingest/kubeshark
	$(GO) test -run '^$$' -fuzz '^FuzzOrigin$$' -fuzztime $(FUZZTIME) ./ingest/kubeshark
	$(GO) test -run '^$$' -fuzz '^FuzzCount$$' -fuzztime $(FUZZTIME) ./ingest/kubeshark/jsonv
	$(GO) test -run '^$$' -fuzz '^FuzzSafeText$$' -fuzztime $(FUZZTIME) ./provenance
	$(GO) test -run '^$$' -fuzz '^FuzzParseShard$$' -fuzztime $(FUZZTIME_READER) ./pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzShardManifest$$' -fuzztime $(FUZZTIME_READER) ./pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzParseURL$$' -fuzztime $(FUZZTIME) ./ingest/objstore

BENCH_DIR ?= $(or $(FLOWPROOF_BENCH_DIR),/var/tmp/flowproof-bench)

bench: build ## compare flowproof with argus, tcptrace and tshark on a recorded 400 MB capture (root: records it once), then run the Go benchmarks
	@mkdir -p $(BENCH_DIR)
	@[ -s $(BENCH_DIR)/bench.pcap ] || testdata/bench/record.sh $(BENCH_DIR)/bench.pcap
	testdata/bench/compare.sh bin/flowproof $(BENCH_DIR)/bench.pcap
	$(GO) test -run '^$$' -bench . -benchtime 3x ./analyze ./ingest ./report

gobench: ## run every Go benchmark once, so none can rot (part of make test)
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

clean: ## remove build and demo outputs
	rm -rf bin flowproof-demo flowproof-out
