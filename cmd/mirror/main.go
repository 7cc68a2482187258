// Command mirror is the Mirror service: MirrorView (LLM responses and feedback) and
// MirrorScan (AI model security scanning) in one binary.
//
//	mirror serve            the HTTP API and the scan workers
//	mirror migrate up       apply the database schema
//	mirror scan PATH…       scan model files (or --endpoint URL --model NAME)
//	mirror admin grant EMAIL  give an account the admin role (revoke, list)
//	mirror version          version and build info
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: mirror <command> [arguments]

commands:
  serve                 run the HTTP API and the scan workers
  migrate up            apply the database schema
  scan PATH...          scan model files or directories (mirror scan -h for flags)
  scan --endpoint URL --model NAME
                        scan a live model endpoint
  admin grant EMAIL     give an existing account the admin role
  admin revoke EMAIL    take it back;  admin list: the admins
  version               print version and build info
`

// run is main without the process: it returns the exit code. Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return exitCode(stderr, runServe(ctx, args[1:], getenv, stdout, stderr))
	case "migrate":
		return exitCode(stderr, runMigrate(ctx, args[1:], getenv, stdout, stderr))
	case "admin":
		return exitCode(stderr, runAdmin(ctx, args[1:], getenv, stdout, stderr))
	case "scan":
		return runScanCommand(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "mirror: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "mirror: %v\n", err)
	return 1
}
