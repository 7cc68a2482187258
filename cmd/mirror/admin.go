package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"mirror/internal/auth"
)

const adminUsage = `usage: mirror admin grant EMAIL | revoke EMAIL | list

Registration never makes an admin: an admin is an account the operator granted
the role to, on the database of DATABASE_URL (SQLite or Postgres). The change
applies to the account's next request. ADMIN_EMAILS, when set, limits who may
hold the role: grant refuses other addresses, and an admin no longer listed is
a plain user.

Check that the account is the intended person's before granting: registering
proves nothing about owning the address, so an account created before its owner
registered is someone else's. grant prints the account's id and creation time.
`

// runAdmin is `mirror admin`: the operator's step that grants or revokes the
// admin role. It applies pending migrations first (unless MIGRATE_ON_START=false),
// so a grant is never undone by a migration that runs later.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, adminUsage)
		if len(args) == 0 {
			return errors.New("admin: a subcommand is required")
		}
		return nil
	}
	switch {
	case args[0] == "list" && len(args) == 1:
	case (args[0] == "grant" || args[0] == "revoke") && len(args) == 2:
	default:
		fmt.Fprint(stderr, adminUsage)
		return errors.New("admin: want grant EMAIL, revoke EMAIL or list")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg, stderr)
	db, err := openDB(ctx, cfg, log, cfg.MigrateOnStart)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "list":
		us, err := auth.Admins(ctx, db, cfg.AdminEmails)
		if err != nil {
			return err
		}
		for _, u := range us {
			note := ""
			if u.Role != auth.RoleAdmin {
				note = "  (not in ADMIN_EMAILS: a plain user until listed)"
			}
			fmt.Fprintf(stdout, "%s  %s  created %s%s\n", u.Email, u.ID, u.CreatedAt.Format(time.RFC3339), note)
		}
		return nil
	case "grant":
		u, err := auth.GrantAdmin(ctx, db, args[1], cfg.AdminEmails)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "granted admin to %s (account %s, created %s)\n", u.Email, u.ID, u.CreatedAt.Format(time.RFC3339))
		return nil
	default:
		u, err := auth.RevokeAdmin(ctx, db, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked admin from %s (account %s)\n", u.Email, u.ID)
		return nil
	}
}
