package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"mirror/internal/auth"
	"mirror/internal/catalog"
	"mirror/internal/config"
	"mirror/internal/httpapi"
	"mirror/internal/llm"
	"mirror/internal/scan"
	"mirror/internal/scan/engine"
	"mirror/internal/sqlstore"
	"mirror/internal/ssrf"
)

// scanDrain is how long shutdown waits for running scans before requeueing them.
const scanDrain = 20 * time.Second

// setupMirrorScan builds MirrorScan's services and starts its scan workers; stop
// drains them (then requeues what is still running) and stops the listeners.
func setupMirrorScan(ctx context.Context, cfg config.Config, db *sqlstore.DB, log *slog.Logger, models *catalog.Service,
	providers *llm.Registry, limits httpapi.Limits) (deps *httpapi.MirrorScanDeps, stop func(), err error) {
	accounts, err := auth.NewService(db, auth.Options{Secret: cfg.SecretKey, TokenLifetime: cfg.AccessTokenLifetime,
		AdminEmails: cfg.AdminEmails, LoginLimiter: limits.Login, AccountLimiter: limits.LoginAccount, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("accounts: %w", err)
	}
	sealKey, err := auth.DeriveKey(cfg.SecretKey, "scan-secrets")
	if err != nil {
		return nil, nil, err
	}
	sealer, err := scan.NewSealer(sealKey)
	if err != nil {
		return nil, nil, err
	}
	guard, err := ssrf.New(cfg.ScanTargetAllowlist)
	if err != nil {
		return nil, nil, fmt.Errorf("SCAN_TARGET_ALLOWLIST: %w", err)
	}
	eng := engine.New(models, providers, guard, db, log)

	broker := scan.NewBroker()
	var notifier scan.Notifier = broker
	stopNotifier := func() {}
	if db.Dialect() == sqlstore.Postgres {
		n := sqlstore.NewPGNotifier(ctx, db, cfg.DatabaseDirectURL, broker, log)
		notifier, stopNotifier = n, n.Close
	}
	scans := scan.NewService(scan.Options{
		Store: db, Engine: eng, Checker: eng, Packs: eng, MaxPackBytes: int(cfg.MaxProbePackBytes), Sealer: sealer, Notifier: notifier,
		ArtifactDir: filepath.Join(cfg.DataDir, "artifacts"), Workers: cfg.ScanWorkers, Lease: cfg.ScanLease,
		MaxRunningPerUser: cfg.ScanMaxRunningPerUser, ArtifactQuota: cfg.ArtifactQuotaBytes,
		OnContainment: func(kind scan.TargetKind, _ string) {
			if kind == scan.TargetCatalogModel {
				models.Invalidate()
			}
		},
		Logger: log,
	})
	scans.Start(ctx)

	// Revocations outlive their tokens by nothing: purge the expired ones hourly.
	purgeCtx, stopPurge := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-purgeCtx.Done():
				return
			case <-t.C:
				if _, err := db.PurgeRevokedTokens(purgeCtx, time.Now()); err != nil && purgeCtx.Err() == nil {
					log.Warn("purge revoked tokens", "error", err)
				}
			}
		}
	}()
	stop = func() {
		stopPurge()
		scans.Stop(scanDrain)
		stopNotifier()
	}
	return &httpapi.MirrorScanDeps{Auth: accounts, Scans: scans}, stop, nil
}
