// Command mirror-scan is `mirror scan` for files and folders only, in a binary
// that links just the model-file scanner and the reports: the same flags, reports
// and exit codes, without the server, the provider SDKs and the probes. It is for
// pipelines and pre-commit hooks that scan many small files, where the start-up
// of the full binary (package initialisation of the SDKs, gRPC, Prometheus and
// the drivers) would cost more than the scan. Live models: mirror scan --endpoint.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"mirror/internal/scan"
	"mirror/internal/scancli"
)

// version and informationURI are set at build time with -ldflags "-X main.version=…",
// as cmd/mirror's.
var (
	version        = "0.1.0-dev"
	informationURI = ""
)

const usage = `usage: mirror-scan [flags] PATH...

Scans model files and folders (recursively) for code that runs on load and for
chat templates that smuggle instructions: ` + "`mirror scan`" + ` for files, in a smaller
binary that starts faster. Live models: mirror scan --endpoint.

` + scancli.UsageTail

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command with its arguments; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "--version" { // not "version": that may be a file to scan
		fmt.Fprintln(stdout, "mirror-scan "+version)
		return 0
	}
	c := scancli.Command{Name: "mirror-scan", Usage: usage, Tool: scan.Tool{Name: "mirror", Version: version, InformationURI: informationURI}}
	return c.Run(ctx, args, getenv, stdout, stderr)
}
