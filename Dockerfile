# Builds the Salescast binaries once; the compose services share the image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin salescast

FROM debian:bookworm-slim
RUN useradd --create-home salescast
COPY --from=build /src/target/release/salescast /usr/local/bin/salescast
COPY params.yaml /work/params.yaml
WORKDIR /work
USER salescast
ENTRYPOINT ["salescast"]
