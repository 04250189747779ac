# syntax=docker/dockerfile:1
# Production image: the `chatters` binary on debian-slim, as a non-root user, with its SQLite
# database on the /data volume. Dependencies are compiled in their own layer (cargo-chef), so
# a change to chatters' own code rebuilds only chatters.
#
#   docker build -t chatters .
#   docker run -d -v chatters-data:/data -p 8080:8080 --env-file .env chatters
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /src

# The recipe: Cargo.toml/Cargo.lock of every crate, nothing else (stable while only code changes).
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json -p chatters
COPY . .
RUN cargo build --release --locked -p chatters --bin chatters \
    && strip target/release/chatters

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin chatters \
    && mkdir -p /data && chown chatters:chatters /data
COPY --from=build /src/target/release/chatters /usr/local/bin/chatters
USER chatters
WORKDIR /data
VOLUME ["/data"]
ENV DATABASE_URL=sqlite:///data/chatters.db \
    WEB_ADDR=0.0.0.0:8080
EXPOSE 8080
# /healthz over bash's /dev/tcp (no curl in the image); the port is WEB_ADDR's. A bot-only
# container (`chatters bot`) has no web port: give it METRICS_ADDR and probe that instead
# (see docker-compose.yml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "port=${HEALTH_PORT:-${WEB_ADDR##*:}}; path=${HEALTH_PATH:-/healthz}; exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' \"$path\" >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["chatters"]
CMD ["run"]
