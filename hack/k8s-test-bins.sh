#!/usr/bin/env bash
# Builds the kube-apiserver, etcd, kubectl, kube-controller-manager and
# kubelet binaries that the integration tests run (controller-runtime
# envtest, kubectl applying manifests, and a real node running the adapter's
# Deployment on containerd), from the Go module proxy only: Kubernetes
# publishes no binaries we can reach here, and `go install` refuses
# k8s.io/kubernetes because its go.mod replaces the staging modules with
# local directories. A scratch module pins each staging module to the
# matching v0.x release instead.
#
# Output: $KORDON_K8S_BIN (default ~/.cache/kordon/k8s-v$KV) holding
# kube-apiserver, etcd, kubectl, kube-controller-manager and kubelet, and
# helm (the chart tests lint and render deploy/helm with it); nothing is
# rebuilt that exists.
set -euo pipefail

KV=${KORDON_K8S_VERSION:-1.37.2}
HV=${KORDON_HELM_VERSION:-4.3.2}
SV=0.${KV#1.}
BIN=${KORDON_K8S_BIN:-$HOME/.cache/kordon/k8s-v$KV}

if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ] && [ -x "$BIN/kubectl" ] &&
  [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/kubelet" ] && [ -x "$BIN/helm" ]; then
  echo "$BIN"
  exit 0
fi
mkdir -p "$BIN"
# helm has no local replaces, so plain `go install` builds it; it wants
# other k8s.io versions than kubernetes, hence not the module below.
if [ ! -x "$BIN/helm" ]; then
  GOBIN="$BIN" go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=v$HV" "helm.sh/helm/v4/cmd/helm@v$HV"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
go mod init kordon-k8s-test-bins >/dev/null 2>&1

gomod=$(go mod download -json "k8s.io/kubernetes@v$KV" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
edits=(-require="k8s.io/kubernetes@v$KV" -godebug=default=go1.26)
for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging/ { print $1 }' "$gomod"); do
  edits+=(-replace="$m=$m@v$SV")
done
go mod edit "${edits[@]}" -tool=k8s.io/kubernetes/cmd/kube-apiserver -tool=k8s.io/kubernetes/cmd/kubectl -tool=go.etcd.io/etcd/server/v3 \
  -tool=k8s.io/kubernetes/cmd/kube-controller-manager -tool=k8s.io/kubernetes/cmd/kubelet
go mod tidy >/dev/null 2>&1

ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $p.gitVersion=v$KV -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$KV" | cut -d. -f2) -X $p.gitTreeState=clean"
done
build() { # name flags package
  [ -x "$BIN/$1" ] && return 0
  go build -ldflags "$2" -o "$BIN/$1.tmp" "$3"
  mv "$BIN/$1.tmp" "$BIN/$1"
}
build kube-apiserver "$ld" k8s.io/kubernetes/cmd/kube-apiserver
build kubectl "$ld" k8s.io/kubernetes/cmd/kubectl
build etcd "-s -w" go.etcd.io/etcd/server/v3
build kube-controller-manager "$ld" k8s.io/kubernetes/cmd/kube-controller-manager
build kubelet "$ld" k8s.io/kubernetes/cmd/kubelet
echo "$BIN"
