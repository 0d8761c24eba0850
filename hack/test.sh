#!/usr/bin/env bash
# Runs kordon's whole test suite: formatting, go vet, staticcheck, and every
# Go test (unit, table, fuzz seeds, golden CLI output, integration and
# end-to-end tests). Benchmarks are not run; see README.md.
#
# Tests that need system parts (nftables and network namespaces as root, a
# kube-apiserver) find them through the environment this script prepares.
# With KORDON_REQUIRE_ALL=1 (CI sets it) such a test fails instead of
# skipping when its part is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
go tool staticcheck ./...

step "go test"
go test -count=1 "$@" ./...
