FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p api --bin zippcrm -p replay-tool --bin zippcrm-replay

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/zippcrm /src/target/release/zippcrm-replay /usr/local/bin/
ENV BIND_ADDR=0.0.0.0:8088
EXPOSE 8088
USER nobody
CMD ["zippcrm"]
