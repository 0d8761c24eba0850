# The kordon image: one static binary that runs the manager (kordon serve),
# a cluster's adapter (kordon adapter) and every other verb. For people with
# a Docker daemon; hack/image.sh builds the same layout without one (and for
# linux/amd64 and linux/arm64 at once, reproducibly):
#   docker build --build-arg VERSION=v1 --build-arg COMMIT=$(git rev-parse HEAD) -t registry.example/kordon:v1 .
#
# The base is empty (scratch), not distroless: kordon needs no libc, no
# shell and no /etc/passwd (it runs as a numeric user), the adapter trusts
# only the CAs it is given (its bundle's, the cluster's from its service
# account), and an empty base is one hack/image.sh can
# match without pulling anything. There is no system CA bundle: a client
# configuration without its own CA, pointed at a publicly signed server,
# needs one mounted and named with SSL_CERT_FILE.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/kordon-dev/kordon/internal/cli.Version=${VERSION} -X github.com/kordon-dev/kordon/internal/cli.Commit=${COMMIT}" \
      -o /out/kordon ./cmd/kordon

FROM scratch
ARG VERSION=dev
ARG COMMIT=
LABEL org.opencontainers.image.title=kordon \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.revision=${COMMIT} \
      org.opencontainers.image.source=https://github.com/kordon-dev/kordon
COPY --from=build /out/kordon /kordon
USER 65532:65532
ENTRYPOINT ["/kordon"]
