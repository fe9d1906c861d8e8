# The project's commands. `make test` is what CI runs (through .ci/run).
SHELL := /bin/bash
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
ACTIONLINT := github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)

.PHONY: help run build test test-unit canaries lint bench images compare reliability release-image release-imgcompare-image dist clean

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  %-26s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## serve on :8080
	$(GO) run ./cmd/echo_app

build: ## the release binary, as the image has it
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="$(LDFLAGS)" -o echo_app ./cmd/echo_app

lint: ## gofmt, vet, staticcheck (both modules), go mod tidy, actionlint, shellcheck
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt -l: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff
	cd tools/sbom-scanner && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	$(GO) run $(ACTIONLINT) .github/workflows/*.yml test/images/testdata/action-pr.yml
	scripts/doc-workflows.sh $(GO) run $(ACTIONLINT)
	shellcheck -x .ci/run action/*.sh bench/*.sh scripts/*.sh scripts/lib/*.sh

# The unit tier: every package under -short, no Docker and no daemons;
# the integration tests skip themselves.
test-unit: ## go test -short: no Docker, no daemons, under 2 minutes
	$(GO) test -short -count=1 -timeout 10m ./...

canaries: ## break each net/http behaviour the server relies on, in a copy of net/http: its canary must fail
	scripts/break-canaries.sh

# Every test. The race detector runs on the packages that need no
# daemon; the integration tests (test/, deploy/ and the browser test)
# drive Docker and other processes, and run without it, as do the
# estimate's bounds, which compress 1.6 GB (the detector would spend
# minutes on it for nothing).
# Artifacts (screenshots) go to out/artifacts. The integration packages
# run one at a time (-p 1): the cluster's zero-loss checks hold while
# kube-proxy stops sending to a deleted pod within its 5 s drain delay
# (2-3 s here), which the image builds of test/images on the same two
# CPUs can push past: a run with both at once lost one request of 1,142.
UNIT_PKGS = $$($(GO) list ./... | grep -v -e /test/ -e /deploy)
test: lint ## lint, then every test, as CI runs it
	@mkdir -p out/artifacts
	$(GO) test -race -count=1 -timeout 30m -skip '^(TestBrowser|TestEstimateOn.*)$$' $(UNIT_PKGS)
	$(GO) test -count=1 -p 1 -timeout 40m ./test/... ./deploy/...
	$(GO) test -count=1 -run '^TestBrowser$$' -artifacts -outputdir $(CURDIR)/out/artifacts ./cmd/echo_app
	$(GO) test -count=1 -run '^TestEstimateOn.*$$' ./internal/gzipsize
	scripts/break-canaries.sh

bench: ## wrk against a 10-line server and nginx, plus the Go benchmarks
	bench/report.sh

reliability: ## load, 10,000 idle connections, slow clients, shutdown under load, fuzzing: docs/reliability.md
	bench/reliability.sh

images: ## build echo_app, echo_app_multistage and echo_app_multistage:alpine and compare them
	scripts/images.sh

compare: ## images, then regenerate docs/image-comparison.md and docs/image-sizes.svg
	scripts/images.sh --write

release-image: ## docker buildx build: linux/amd64, arm64 and arm/v7 with provenance and SBOM, to out/image and the local registry (NO_CACHE=1 for a cold build)
	scripts/release-image.sh

release-imgcompare-image: ## the same for imgcompare's own image (Dockerfile.imgcompare)
	DOCKERFILE=Dockerfile.imgcompare scripts/release-image.sh

dist: ## imgcompare's release binaries (linux, darwin, windows; amd64, arm64), SBOMs and SHA256SUMS in dist/
	scripts/dist.sh

clean: ## remove what the build and the tests leave
	rm -rf echo_app out dist
