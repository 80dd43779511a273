# One image with every Salescast binary. The four binaries share almost all of their dependency
# tree (polars, axum, the models), so one build compiles it once, one image is pulled, and each
# compose service only picks its command. Dependencies are compiled in a layer of their own
# (cargo-chef), which stays cached while only our sources change.

FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS plan
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=plan /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked \
        --bin salescast --bin salescast-api --bin salescast-ui --bin salescast-monitor

FROM debian:bookworm-slim AS runtime
# curl for the health checks; ca-certificates for an MLflow server behind https. Not pinned to
# exact versions: Debian replaces them on every security update, and a pin would then break
# the build instead of taking the fix.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 salescast \
    && mkdir -p /work /data /reports /cache \
    && chown salescast:salescast /work /data /reports /cache
COPY --from=build /src/target/release/salescast /src/target/release/salescast-api \
     /src/target/release/salescast-ui /src/target/release/salescast-monitor /usr/local/bin/
COPY params.yaml /etc/salescast/params.yaml
COPY deploy/trainer.sh deploy/monitor-loop.sh /usr/local/bin/
USER 10001
WORKDIR /work
ENV SALESCAST_PARAMS=/etc/salescast/params.yaml \
    SALESCAST_ADDR=0.0.0.0:5001 \
    SALESCAST_UI_ADDR=0.0.0.0:8501 \
    SALESCAST_REPORTS_DIR=/reports \
    RUST_LOG=info
EXPOSE 5001 8501
# The API's readiness by default; the compose file gives each service its own check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:5001/ready"]
CMD ["salescast-api"]
