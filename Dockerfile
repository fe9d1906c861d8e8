# Multi-stage build of echo_app: compile in a Go image, ship the static
# binary alone. Targets: the default (last) stage is FROM scratch;
# --target alpine reproduces the original demo's alpine runtime.
#
#   docker build -t echo_app_multistage .
#   docker build -t echo_app_multistage:alpine --target alpine .
#
# GO_IMAGE and ALPINE_IMAGE name the base images, so the same file builds
# with upstream images or with the local stand-ins of scripts/base-images.sh.
#
# It needs BuildKit (FROM --platform, RUN --mount): docker build with
# buildx, or docker buildx build; the release is make release-image. There
# is no "# syntax=" line on purpose: it would make every build pull the
# Dockerfile frontend image, and the frontend built into BuildKit reads
# this file.
ARG GO_IMAGE=golang:1.26-alpine
ARG ALPINE_IMAGE=alpine:3.22

# The build stage runs on the builder's own platform and cross-compiles for
# the target: an arm64 image is compiled by the amd64 Go toolchain at native
# speed, not by an emulated arm64 one.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
WORKDIR /src
# The server links the standard library only, so the build downloads
# nothing: GOPROXY=off proves it, and the build runs with --network none.
ENV CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local
COPY go.mod go.sum ./
COPY cmd/echo_app ./cmd/echo_app
COPY internal/server ./internal/server
# BuildKit sets TARGETOS, TARGETARCH and TARGETVARIANT from --platform
# (linux/arm/v7 is arm and v7, which Go calls GOARM=7).
ARG TARGETOS
ARG TARGETARCH
ARG TARGETVARIANT
ARG VERSION=dev
ARG REVISION=unknown
# -trimpath and -buildvcs=false keep paths and the checkout state out of the
# binary, so the same commit builds to the same bytes. The cache mount keeps
# Go's build cache between builds (it never reaches the image): a one-line
# change recompiles one package, not the standard library.
RUN --mount=type=cache,id=echo_app-go-build,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} GOARM=${TARGETVARIANT#v} \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/echo_app ./cmd/echo_app

# The original demo's runtime: the binary on alpine, as a non-root user.
FROM ${ALPINE_IMAGE} AS alpine
COPY --from=build /out/echo_app /bin/echo_app
USER 65532:65532
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/bin/echo_app", "-healthcheck"]
ENTRYPOINT ["/bin/echo_app"]

# The shipped image: nothing but the binary. No shell, no package manager,
# no libc (the binary is static), no CA certificates (it makes no outbound
# TLS connection), no /etc/passwd (the user is numeric).
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/rastringer/docker_multistage
COPY --from=build /out/echo_app /echo_app
# 65532 is the conventional "nonroot" id of distroless images; numeric, so
# Kubernetes can verify runAsNonRoot without an /etc/passwd.
USER 65532:65532
EXPOSE 8080
# The binary checks itself: a health check that needs no shell and no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/echo_app", "-healthcheck"]
LABEL org.opencontainers.image.title="echo_app" \
      org.opencontainers.image.description="GET /{noun} answers I love {noun}!" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"
ENTRYPOINT ["/echo_app"]
