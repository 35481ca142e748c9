# Leernet: multi-stage build. The first stage compiles the dependencies against stub
# sources so that they are cached in their own layer; the second compiles Leernet itself.
FROM rust:1.95-slim-bookworm AS build
# aws-lc-sys (the token signatures' crypto) builds C code; cmake is its fallback builder.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY api/Cargo.toml api/Cargo.toml
COPY entity/Cargo.toml entity/Cargo.toml
COPY migration/Cargo.toml migration/Cargo.toml
COPY tests/Cargo.toml tests/Cargo.toml
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p api/src entity/src migration/src tests/src/bin tests/tests bench/src \
    && echo 'fn main() {}' > api/src/main.rs \
    && echo 'fn main() {}' > tests/src/bin/leernet-process.rs \
    && echo 'fn main() {}' > bench/src/main.rs \
    && touch api/src/lib.rs entity/src/lib.rs migration/src/lib.rs tests/src/lib.rs tests/tests/main.rs \
    && cargo build --release --locked -p api \
    && rm -rf api/src entity/src migration/src tests/src tests/tests bench/src
COPY . .
# Make sure cargo rebuilds our crates rather than reusing the stubs.
RUN touch api/src/main.rs api/src/lib.rs entity/src/lib.rs migration/src/lib.rs \
    && cargo build --release --locked -p api --bin leernet

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin leernet \
    && mkdir -p /data && chown leernet:leernet /data
COPY --from=build /src/target/release/leernet /usr/local/bin/leernet
USER leernet
WORKDIR /data
# The embedded SQLite database lives in /data (a volume); set DATABASE_URL=postgres://...
# to use PostgreSQL instead.
ENV LEERNET_ADDR=0.0.0.0:8080 \
    LEERNET_DATA_DIR=/data \
    LEERNET_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["leernet"]
CMD ["serve"]
