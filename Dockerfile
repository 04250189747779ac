# Production image: one static-ish binary on a slim base.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p chatters --bin chatters

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/chatters chatters \
    && mkdir -p /var/lib/chatters && chown chatters /var/lib/chatters
COPY --from=build /src/target/release/chatters /usr/local/bin/chatters
USER chatters
WORKDIR /var/lib/chatters
ENV WEB_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["chatters"]
CMD ["run"]
