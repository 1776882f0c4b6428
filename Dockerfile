# Countersign container image: a static binary on a distroless base,
# running as a non-root user. Build: docker build -t countersign .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/countersign ./cmd/countersign \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/countersign /usr/local/bin/countersign
# Writable data directory for the embedded SQLite database and keys.
COPY --from=build --chown=65532:65532 /out/data /var/lib/countersign
COPY docs/countersign.example.yaml /etc/countersign/countersign.yaml
USER 65532:65532
ENV COUNTERSIGN_LISTEN=0.0.0.0:8080 \
    COUNTERSIGN_DATA_DIR=/var/lib/countersign
EXPOSE 8080
VOLUME ["/var/lib/countersign"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/countersign", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/countersign", "serve"]
CMD ["--config", "/etc/countersign/countersign.yaml"]
