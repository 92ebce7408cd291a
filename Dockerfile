# syntax=docker/dockerfile:1
# One image for the Rust services (registry, audio, gateway; the one-process audio-stack too).
# Dependencies are built in their own cached layer (cargo-chef), the runtime image is Debian slim
# with the binaries only, running as a non-root user.

FROM rust:1.95-slim-bookworm AS chef
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake perl python3 \
 && rm -rf /var/lib/apt/lists/* \
 && cargo install cargo-chef --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# Only changes to the dependencies rebuild this layer.
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin registry --bin audio --bin gateway --bin audio-stack --bin healthcheck

FROM debian:bookworm-slim AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home app \
 && mkdir -p /data \
 && chown app:app /data
COPY --from=build /src/target/release/registry /src/target/release/audio /src/target/release/gateway \
     /src/target/release/audio-stack /src/target/release/healthcheck /usr/local/bin/
USER app:app
WORKDIR /home/app
ENV RUST_LOG=info
VOLUME ["/data"]
# Each service sets HEALTHCHECK_URL to its own /health (compose does).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["healthcheck"]
CMD ["audio-stack", "--data-dir", "/data"]
