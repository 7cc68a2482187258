# Shortcuts for the commands the README and .ci/run use; each target is one command
# you can also type yourself.
GOLANGCI_LINT_VERSION := v2.15.0
GOBIN := $(shell go env GOPATH)/bin

.PHONY: run test race services ci lint bench eval

run: ## the service, with nothing set up (SQLite, in-memory limits, offline demo model)
	go run ./cmd/mirror serve

test: ## the README's test command (service-backed suites skip without their URLs)
	go test ./...

# The packages with concurrency: the whole server end to end (cmd/mirror), the stores,
# the limiter, the HTTP layer and the scanners.
RACE_PKGS = ./cmd/mirror $$(go list ./internal/... | grep -E '/(sqlstore|inmem|ratelimit|httpapi|scan|catalog)(/|$$)')

race: ## the concurrent packages under the race detector
	go test -count=1 -race -timeout 30m $(RACE_PKGS)

services: ## install and start Postgres, PgBouncer and Redis as CI does
	CI_SERVICES_ONLY=1 bash .ci/run

ci: ## everything CI runs
	bash .ci/run

$(GOBIN)/golangci-lint:
	go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

lint: $(GOBIN)/golangci-lint ## gofmt, go vet and golangci-lint (.golangci.yml)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	$(GOBIN)/golangci-lint run ./...

bench: ## the benchmarks (report ratios against the baseline measured in the same run)
	go test -run '^$$' -bench . -benchmem ./...

eval: ## the live-model scanner against a real model (scripts/realmodel; minutes, not part of test)
	bash scripts/realmodel/eval
