# OpenMidas as a container image: one static (musl) `openmidas` binary on distroless,
# running as a non-root user, with its SQLite database on the volume /data.
#
#   docker build -t openmidas .
#   docker run -d --name openmidas -p 8080:8080 -v openmidas-data:/data \
#     -e OPENMIDAS_ADMIN_TOKEN=change-me openmidas
#
# With podman: `podman build --format docker -t openmidas .` (the OCI format has no
# HEALTHCHECK). Settings, upgrades and what was verified: docs/packaging.md.
#
# RUST_IMAGE and RUNTIME_IMAGE may be replaced with --build-arg, e.g. by a mirror of the
# same images; scripts/check-release.sh does so where no registry can be reached.
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

# ---- builder: a static binary for x86_64-unknown-linux-musl ---------------------------
FROM ${RUST_IMAGE} AS builder
# musl-gcc compiles the C parts (SQLite, mimalloc) for the musl target. busybox-static
# gives the image a few tools for backups and inspection (distroless has no shell).
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools busybox-static \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
# Dependencies are cached in two cache mounts rather than in a layer: the crates.io
# downloads and the target folder. A rebuild after a source change recompiles only the
# workspace's own crates, and no list of member crates has to be kept here. The binary
# is copied out of the cache mount in the same step. scripts/release.sh holds the build
# flags (the same script builds the release binary outside containers).
RUN --mount=type=cache,id=openmidas-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=openmidas-target-musl,target=/src/target,sharing=locked \
    OPENMIDAS_STATIC=musl CARGO_TARGET_DIR=/src/target scripts/release.sh > /tmp/openmidas-path \
 && install -D -m 0755 "$(cat /tmp/openmidas-path)" /out/usr/local/bin/openmidas \
 && install -D -m 0755 /bin/busybox /out/usr/local/bin/busybox \
 && install -d /out/data \
 && /out/usr/local/bin/openmidas --version

# ---- the image: distroless static, non-root -------------------------------------------
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="OpenMidas" \
      org.opencontainers.image.description="A wire-compatible WeChat mini-game Midas server and currency ledger" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/usr/local/bin/ /usr/local/bin/
# /data belongs to the user the server runs as (65532, distroless's "nonroot"): a new named
# volume takes this owner, so the server can create its database there.
COPY --from=builder --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
# The SQLite database (and, beside it, openmidas.db.admin-token and openmidas.db.lock).
VOLUME /data
ENV OPENMIDAS_LISTEN=0.0.0.0:8080 \
    OPENMIDAS_DATABASE_URL=/data/openmidas.db
EXPOSE 8080
# `openmidas healthcheck` GETs /healthz on the port of OPENMIDAS_LISTEN (on the loopback),
# so moving the port with that variable moves the probe too. The image has no shell: an
# override must be in exec form (docs/packaging.md).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/openmidas", "healthcheck"]
# SIGTERM (docker stop) drains in-flight requests for up to OPENMIDAS_DRAIN_TIMEOUT_SECS
# (10 s by default), commits queued writes and exits 0: give `docker stop` more than that.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/openmidas"]
CMD ["serve"]
