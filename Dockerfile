# syntax=docker/dockerfile:1
# vmi-operator image: a static (musl) binary on distroless, running as the nonroot user.
#   docker build -t vmi-operator:dev .
#   docker run --rm vmi-operator:dev --help
# hack/check-dockerfile.sh checks this file without a Docker engine and runs the builder's steps
# locally.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
ARG TARGET=x86_64-unknown-linux-musl
# musl-gcc for the C parts of dependencies (ring).
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add ${TARGET}
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY src ./src
# The other workspace members: cargo reads every member to resolve the workspace (--locked).
COPY test-support ./test-support
COPY hack/bench ./hack/bench
# The registry and target folders are BuildKit caches; the binary is copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target ${TARGET} --bin vmi-operator \
 && cp target/${TARGET}/release/vmi-operator /vmi-operator

# No shell, no package manager: the binary (and distroless' CA certificates, /etc/passwd) only.
FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="vmi-operator" \
      org.opencontainers.image.description="vSphere Content Library templates as VM Operator VirtualMachineImages" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /vmi-operator /vmi-operator
USER 65532:65532
# 8080: /metrics, /healthz, /readyz; 9443: admission webhook (TLS).
EXPOSE 8080 9443
ENTRYPOINT ["/vmi-operator"]
CMD ["run"]
