# opsdojo: `make run` to serve, `make test` to run every test.
# Both set up what they need on a fresh Debian machine (Docker engine,
# npm packages, the web bundle, the base and lab images).

GO       ?= go
BIN      := bin/opsdojo
ADDR     ?= 127.0.0.1:8080
DATA_DIR ?= ./data
WEB_SRC  := $(shell find web/src -type f 2>/dev/null) web/build.mjs web/package-lock.json
GO_SRC   := $(shell find cmd internal web -name '*.go' -o -name '*.html' -o -name '*.sql' -o -name '*.css' 2>/dev/null) go.mod go.sum

.PHONY: all build run test test-unit test-web test-fuzz test-labs test-dockerfile vet lint docker chromium images web clean

all: build

docker:
	@bash .ci/ensure-docker.sh

chromium:
	@bash .ci/ensure-chromium.sh

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/static/gen/app.js: web/node_modules/.package-lock.json $(WEB_SRC)
	cd web && node build.mjs

web: web/static/gen/app.js

# `opsdojo version` and opsdojo_build_info name the build.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

$(BIN): web/static/gen/app.js $(GO_SRC)
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/opsdojo

build: $(BIN)

images: docker $(BIN)
	./$(BIN) images build

run: images
	@mkdir -p $(DATA_DIR)
	@echo
	@echo "  opsdojo is starting on http://$(ADDR)"
	@echo "  Open it in a browser and sign up (the first account is an ordinary learner)."
	@echo "  Admin account: echo 'a-long-password' | ./$(BIN) user add --username admin --password-stdin --admin"
	@echo
	./$(BIN) serve --addr $(ADDR) --data-dir $(DATA_DIR)

vet: web
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

# gofmt, go vet (with and without the integration tag) and staticcheck,
# pinned and installed into bin/ from the Go module proxy.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/staticcheck-$(STATICCHECK_VERSION)

$(STATICCHECK):
	@mkdir -p bin
	GOBIN=$(CURDIR)/bin/.staticcheck $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv bin/.staticcheck/staticcheck $@ && rmdir bin/.staticcheck

lint: vet $(STATICCHECK)
	@unformatted=$$(gofmt -l cmd internal web); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	./$(STATICCHECK) ./...
	./$(STATICCHECK) -tags integration ./...

test-web: web/node_modules/.package-lock.json
	cd web && npm test

test-unit: web
	$(GO) test -race -count=1 ./...

# Every fuzz target runs briefly on top of its seed corpus.
FUZZTIME ?= 10s
test-fuzz:
	@for pkg in $$($(GO) list ./internal/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Every lab is solvable and not trivially passed, in real containers.
test-labs: images
	./$(BIN) labs test

# The top-level Dockerfile builds and its image serves a learner.
test-dockerfile: images
	bash .ci/test-dockerfile.sh

# The whole suite: lint, unit tests, the web tests, the integration suite against
# the real Docker engine (race detector on), the fuzz targets, the labs and
# the Dockerfile.
test: images chromium lint test-web
	$(GO) test -race -count=1 -tags integration -timeout 40m ./...
	$(MAKE) test-fuzz
	$(MAKE) test-labs
	$(MAKE) test-dockerfile

clean:
	rm -rf bin web/static/gen
