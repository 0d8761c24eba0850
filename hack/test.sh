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

step "system parts: nftables and iproute2 (real packets through network namespaces), containerd, runc and CNI plugins (the adapter's Deployment on a real kubelet), chromium (the console's browser tests)"
need=()
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing and not installable here (needs root and apt-get): ${need[*]}; the tests that need them will skip"
  fi
fi
command -v nft >/dev/null && nft --version
command -v containerd >/dev/null && containerd --version
command -v chromium >/dev/null && { chromium --version 2>/dev/null | grep -v 'unexpected operator' || true; }

step "test binaries: kube-apiserver, etcd, kubectl, kube-controller-manager, kubelet and helm (built once from the Go module proxy, then cached)"
KUBEBUILDER_ASSETS=$(bash hack/k8s-test-bins.sh | tail -n 1)
export KUBEBUILDER_ASSETS
echo "$KUBEBUILDER_ASSETS"

step "go test"
go test -count=1 -timeout 30m "$@" ./...
