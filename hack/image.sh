#!/usr/bin/env bash
# Builds kordon's container image without a container daemon: a static
# binary per platform (CGO_ENABLED=0: there is no libc in the image), put
# alone into an empty image as /kordon, run as user 65532, labelled with the
# version, commit and source. The result is an OCI image index for every
# platform, as a layout directory and as one tar:
#
#   hack/image.sh                        # dist/oci/ and dist/kordon-oci.tar; prints the digest
#   ctr -n k8s.io images import dist/kordon-oci.tar     # into a node's containerd
#   crane push dist/oci registry.example/kordon:v1      # to a registry, as the digest printed
#
# The same commit and Go release give the same digest: times come from the
# commit, not the clock, and nothing else varies. `hack/image.sh --check`
# builds twice in different directories and fails if the digests differ.
#
# Environment: VERSION (default: git describe), COMMIT (default: HEAD),
# PLATFORMS (default "linux/amd64 linux/arm64"), IMAGE (the name the layout
# is tagged with, default localhost/kordon:$VERSION), OUT (default dist).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || true)}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64}
IMAGE=${IMAGE:-localhost/kordon:$VERSION}
OUT=${OUT:-dist}
# The commit's time, so that a rebuild tomorrow is the same image.
CREATED=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() { # out-dir
  local out=$1 bin inputs=() p
  bin=$(mktemp -d "$work/bin.XXXX")
  for p in $PLATFORMS; do
    mkdir -p "$bin/$p"
    # -trimpath and no VCS stamp: the binary holds no path of this machine
    # and no state of its work tree beyond the version and commit given,
    # which the Dockerfile (with no .git in its context) can match.
    CGO_ENABLED=0 GOOS=${p%%/*} GOARCH=${p#*/} go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/kordon-dev/kordon/internal/cli.Version=$VERSION -X github.com/kordon-dev/kordon/internal/cli.Commit=$COMMIT" \
      -o "$bin/$p/kordon" ./cmd/kordon
    inputs+=("$p=$bin/$p/kordon")
  done
  rm -rf "$out/oci" "$out/kordon-oci.tar"
  mkdir -p "$out"
  go run ./hack/ociimage -out "$out/oci" -tar "$out/kordon-oci.tar" -name "$IMAGE" \
    -version "$VERSION" -revision "$COMMIT" -created "$CREATED" "${inputs[@]}"
}

if [ "${1:-}" = "--check" ]; then
  da=$(build "$work/a" | tail -n 1)
  db=$(build "$work/b/elsewhere" | tail -n 1)
  if [ "$da" != "$db" ] || ! cmp -s "$work/a/kordon-oci.tar" "$work/b/elsewhere/kordon-oci.tar"; then
    echo "not reproducible: $da vs $db" >&2
    exit 1
  fi
  echo "reproducible: $da"
  exit 0
fi
build "$OUT"
