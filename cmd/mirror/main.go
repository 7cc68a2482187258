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
  scan PATH...          scan model files or directories
  scan --endpoint URL --model NAME
                        scan a live model endpoint
  admin grant EMAIL     give an existing account the admin role
  admin revoke EMAIL    take it back;  admin list: the admins
  version               print version and build info
  help [command]        show help (also: mirror <command> --help)

Configuration comes from environment variables (see README).
`

// commandUsage is each command's help, printed on stdout for -h and --help.
var commandUsage = map[string]string{
	"serve": `usage: mirror serve

Runs the HTTP API (MirrorView and MirrorScan) on 0.0.0.0:$PORT (default 8000) and
the scan workers, until interrupted; then drains in-flight requests. It takes no
arguments: configure it with environment variables or a .env file (see README).
`,
	"migrate": `usage: mirror migrate up

Applies the database schema to DATABASE_DIRECT_URL (or DATABASE_URL), then exits.
`,
	"version": `usage: mirror version

Prints the version, the VCS revision and the Go toolchain.
`,
}

// wantsHelp reports whether args ask for help: -h, --help or help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "help" {
			return true
		}
		if a == "--" {
			return false
		}
	}
	return false
}

// run is main without the process: it returns the exit code. Tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if u, ok := commandUsage[args[0]]; ok && wantsHelp(args[1:]) {
		fmt.Fprint(stdout, u)
		return 0
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
		if len(args) > 1 {
			if u, ok := commandUsage[args[1]]; ok {
				fmt.Fprint(stdout, u)
				return 0
			}
			if args[1] == "scan" {
				return runScanCommand(ctx, []string{"--help"}, getenv, stdout, stderr)
			}
		}
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
