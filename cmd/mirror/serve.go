package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	defaults "mirror/config"
	"mirror/internal/catalog"
	"mirror/internal/config"
	"mirror/internal/feedback"
	"mirror/internal/generate"
	"mirror/internal/httpapi"
	"mirror/internal/inmem"
	"mirror/internal/llm"
	"mirror/internal/netlimit"
	"mirror/internal/reqid"
	"mirror/internal/review"
	"mirror/internal/sqlstore"
)

// loadConfig reads the environment over the working directory's .env file.
func loadConfig(getenv func(string) string) (config.Config, error) {
	get, err := config.Lookup(getenv, ".env")
	if err != nil {
		return config.Config{}, err
	}
	return config.Load(get)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// Every record logged with a request's context names the request.
	return slog.New(reqid.NewHandler(h))
}

// loadCatalog reads MODELS_CONFIG, or config/models.yaml, or the catalog built into
// the binary when neither exists (a binary run outside the repository).
func loadCatalog(cfg config.Config, log *slog.Logger) (*catalog.Catalog, error) {
	if cfg.ModelsConfig != "" {
		return catalog.Load(cfg.ModelsConfig)
	}
	const path = "config/models.yaml"
	if _, err := os.Stat(path); err == nil {
		return catalog.Load(path)
	}
	log.Info("config/models.yaml not found; using the built-in catalog")
	return catalog.Parse(defaults.DefaultModels, "built-in config/models.yaml")
}

// openDB opens the database and, if asked, applies migrations over the direct URL
// (a transaction pooler is no place for DDL).
func openDB(ctx context.Context, cfg config.Config, log *slog.Logger, migrate bool) (*sqlstore.DB, error) {
	if migrate {
		if err := migrateDB(ctx, cfg.DatabaseDirectURL, log); err != nil {
			return nil, err
		}
	}
	return sqlstore.Open(ctx, cfg.DatabaseURL, log)
}

func migrateDB(ctx context.Context, url string, log *slog.Logger) error {
	db, err := sqlstore.Open(ctx, url, log)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Migrate(ctx)
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 || args[0] != "up" {
		return errors.New("usage: mirror migrate up")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if err := migrateDB(ctx, cfg.DatabaseDirectURL, log); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// runServe runs the API until ctx ends, then drains in-flight requests.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("serve takes no arguments (configure with environment variables; see README)")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg, stderr)
	if err := config.EnsureSecret(&cfg); err != nil {
		return err
	}
	cat, err := loadCatalog(cfg, log)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, log, cfg.MigrateOnStart)
	if err != nil {
		return err
	}
	defer db.Close()

	llmCfg := llm.ConfigFromEnv(cfg.Getenv)
	llmCfg.Logger = log // each retry of a provider call, with the request's id
	providers := llm.NewRegistry(llmCfg)
	models := catalog.NewService(cat, providers, db, catalog.Options{AllowDemo: !cfg.Production()})
	if err := models.ChooseDefault(ctx, cfg.Production(), log); err != nil {
		return err
	}
	var gens generate.Store = db
	var fbs feedback.Store = db
	if !cfg.PersistenceEnabled {
		mem := inmem.New(10000, time.Hour)
		gens, fbs = mem, mem
		log.Info("persistence is off: generations and feedback are kept in memory for an hour")
	}
	limits, closeLimits, err := buildLimits(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeLimits()
	scanDeps, stopScans, err := setupMirrorScan(ctx, cfg, db, log, models, providers, limits)
	if err != nil {
		return err
	}
	defer stopScans()
	api := httpapi.New(httpapi.Deps{
		Options:    apiOptions(cfg),
		Log:        log,
		Catalog:    models,
		Generate:   generate.NewService(models, providers, gens, cfg.PersistenceEnabled, log),
		Feedback:   feedback.NewService(fbs, cfg.PersistenceEnabled),
		Ready:      db.Ping,
		MirrorScan: scanDeps,
		Review:     review.NewService(db),
		Limits:     limits,
	})

	ln, err := net.Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	ln = netlimit.PerClient(netlimit.Total(ln, cfg.MaxConns), cfg.MaxConnsPerClient)
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// net/http's own answers to malformed requests go out in the error envelope.
	ln = httpapi.ServeEnvelopeErrors(srv, ln, log)
	log.Info("mirror serving", "addr", ln.Addr().String(), "run_mode", cfg.RunMode, "environment", cfg.Environment,
		"database", string(db.Dialect()), "persistence", cfg.PersistenceEnabled)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// apiOptions takes from cfg the settings the HTTP API reads.
func apiOptions(cfg config.Config) httpapi.Options {
	return httpapi.Options{
		ProjectName: cfg.ProjectName, Version: cfg.Version,
		Development: cfg.Development(), Production: cfg.Production(), CSPReportOnly: cfg.CSPReportOnly,
		AllowedHosts: cfg.AllowedHosts, CORSOrigins: cfg.CORSOrigins,
		TrustProxyHeaders: cfg.TrustProxyHeaders, TrustedProxyHops: cfg.TrustedProxyHops, WriteAPIKeys: cfg.WriteAPIKeys,
		MaxRequestBodyBytes: cfg.MaxRequestBodyBytes, MaxUploadBytes: cfg.MaxUploadBytes, BodyReadTimeout: cfg.BodyReadTimeout,
		MaxProbePackBytes: cfg.MaxProbePackBytes,
	}
}
