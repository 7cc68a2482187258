# Mirror: one static binary (pure-Go SQLite, no cgo). Railway and similar platforms
# provide PORT; serve binds 0.0.0.0:$PORT (default 8000).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mirror ./cmd/mirror && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mirror-scan ./cmd/mirror-scan

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/mirror /out/mirror-scan /app/
COPY config/models.yaml /app/config/models.yaml
ENV RUN_MODE=prod \
    ENVIRONMENT=production \
    MIRROR_DATA_DIR=/app/data
EXPOSE 8000
ENTRYPOINT ["/app/mirror"]
CMD ["serve"]
