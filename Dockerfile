# The kordon image: one static binary that runs the manager (kordon serve),
# a cluster's adapter (kordon adapter) and every other verb.
#   docker build -t registry.example/kordon:v1 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/kordon-dev/kordon/internal/cli.Version=${VERSION}" -o /out/kordon ./cmd/kordon

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kordon /kordon
USER 65532:65532
ENTRYPOINT ["/kordon"]
