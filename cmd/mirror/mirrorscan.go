package main

import (
	"context"
	"log/slog"

	"mirror/internal/catalog"
	"mirror/internal/config"
	"mirror/internal/httpapi"
	"mirror/internal/llm"
	"mirror/internal/sqlstore"
)

// setupMirrorScan builds MirrorScan's services and starts its scan workers; stop
// drains them. It is filled in by the MirrorScan API work.
func setupMirrorScan(ctx context.Context, cfg config.Config, db *sqlstore.DB, log *slog.Logger, models *catalog.Service, providers *llm.Registry) (deps *httpapi.MirrorScanDeps, stop func(), err error) {
	return nil, func() {}, nil
}
