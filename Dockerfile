# The sidecar's container image: a static Go binary on distroless, non-root.
#
#   docker build --build-arg VERSION=1.2.3 -t ghcr.io/botsidecar/sidecar:1.2.3 .
#   docker build --build-arg VERSION=1.2.3 --build-arg GO_TAGS=otel -t ghcr.io/botsidecar/sidecar:1.2.3-otel .
#
# Multi-platform builds (docker buildx build --platform linux/amd64,linux/arm64)
# cross-compile in the build stage on the builder's own platform.
# deploy/docker_test.go reads this file and builds the binary the same way.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first, in their own layer: it is rebuilt only when go.mod or
# go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
# GO_TAGS=otel builds in the OpenTelemetry exporters (OTLP, Zipkin,
# console): a binary twice the size and 7 MiB more idle memory in every
# pod, so the default image has none and runs untraced.
ARG GO_TAGS=
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -tags "${GO_TAGS}" -ldflags "-s -w -X main.version=${VERSION}" -o /out/sidecar ./cmd/sidecar
# The working directory of the final image, with data/ (the default bolt
# store, ./data/references.db) writable by the non-root user.
RUN mkdir -p /out/state/data

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot
# (65532); no shell, no libc.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="bot-sidecar" \
      org.opencontainers.image.description="Authenticating sidecar for Microsoft Bot Framework and Teams bots" \
      org.opencontainers.image.source="https://github.com/botsidecar/sidecar" \
      org.opencontainers.image.url="https://github.com/botsidecar/sidecar" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/sidecar /sidecar
COPY --from=build --chown=65532:65532 /out/state /var/lib/sidecar
# The bolt store's default path ./data/references.db resolves to
# /var/lib/sidecar/data/references.db: mount a volume there to keep
# references across container restarts.
WORKDIR /var/lib/sidecar
USER 65532:65532
# 3978: inbound (channel-facing); 9090: admin (/healthz, /readyz, /metrics).
# The bot-facing listener, 127.0.0.1:3979, is loopback only.
EXPOSE 3978 9090
ENTRYPOINT ["/sidecar"]
