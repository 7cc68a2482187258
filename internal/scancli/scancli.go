// Package scancli is the command line of a model scan, shared by `mirror scan`
// and `mirror-scan`: the flags, the progress display on stderr, the report in the
// chosen format and the exit codes of API.md. It scans files and folders itself;
// `mirror scan --endpoint` (a live model) is an Extension that cmd/mirror adds.
// The split is for start-up time: cmd/mirror-scan links only this package, the
// file scanner and the reports, not the provider SDKs, the probes, the server
// and the drivers whose package initialisation is most of a `mirror` process
// (docs/MODEL_SCANNERS.md, "Speed, whole process").
package scancli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"mirror/internal/scan"
	"mirror/internal/scan/artifact"
)

// Command describes one scan command line.
type Command struct {
	Name  string    // as the user types it, e.g. "mirror scan"; prefixes every message
	Usage string    // the help text before the flags
	Tool  scan.Tool // the tool named in every report
	// Extension adds a scan of something other than files (nil: files only).
	Extension Extension
}

// Extension is a scan of something other than files, chosen by its own flags
// (cmd/mirror's --endpoint).
type Extension interface {
	// AddFlags defines the extension's flags.
	AddFlags(fs *pflag.FlagSet)
	// Active reports whether the parsed flags ask for the extension's scan.
	Active() bool
	// Check validates the parsed flags. It is called when Active, and otherwise
	// when PATHs are given, to refuse the extension's flags beside them.
	Check(paths []string) error
	// Unit names what the extension's progress counts ("probes").
	Unit() string
	// Scan runs the extension's scan, reporting units done to progress.
	Scan(ctx context.Context, progress scan.ProgressFunc) (scan.Report, error)
}

// UsageTail ends every scan command's help, before its flags: the reports and
// the exit codes.
const UsageTail = `Reports: table (default, for people), json (docs/report-format.md), sarif (SARIF
2.1.0 for GitHub code scanning), html (one self-contained page), cyclonedx
(CycloneDX 1.6 ML-BOM). Progress goes to stderr when it is a terminal.

Exit codes: 0 nothing at or above --fail-on; 1 a finding at or above --fail-on
(default high); 2 something could not be scanned, or a usage or output error.

Flags:
`

// Formats are the values of --format.
var Formats = []string{"table", "json", "sarif", "html", "cyclonedx"}

// hashedFormats are the report formats that show each file's SHA-256. The hash
// reads every byte of every file, where the scan itself skips tensor data (a
// few KiB of a multi-GB checkpoint), so the table and SARIF reports, which do not
// show it, are made without it.
var hashedFormats = map[string]bool{"json": true, "html": true, "cyclonedx": true}

// options holds the parsed command line.
type options struct {
	paths   []string
	format  string
	output  string
	failOn  scan.Severity
	noColor bool
	quiet   bool
}

// Run runs the command with args (after the command's name) and returns its
// exit code (API.md): 1 a finding at or above --fail-on, else 2 if anything was
// not scanned or on a usage or output error, else 0.
func (c Command) Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts, err := c.parse(args, stdout, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return 2
	}
	stderrColor := colorWanted(stderr, opts.noColor, getenv)
	started := time.Now().UTC()
	var report scan.Report
	if c.Extension != nil && c.Extension.Active() {
		bar := newProgress(stderr, opts.quiet, stderrColor, c.Extension.Unit())
		report, err = c.Extension.Scan(ctx, bar.update)
		bar.finish()
	} else {
		report, err = scanPaths(ctx, opts.paths, hashedFormats[opts.format], stderr, newProgress(stderr, opts.quiet, stderrColor, "files"))
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return 2
	}
	report.Tool = c.Tool
	report.StartedAt, report.FinishedAt = started, time.Now().UTC()
	tableColor := opts.output == "" && colorWanted(stdout, opts.noColor, getenv)
	if err := writeReport(report, opts, stdout, tableColor); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", c.Name, err)
		return 2
	}
	code := report.ExitCode(opts.failOn)
	if opts.output != "" || opts.format != "table" {
		s := report.Summary
		line := fmt.Sprintf("%d critical, %d high, %d medium, %d low, %d info; %d not scanned",
			s.Critical, s.High, s.Medium, s.Low, s.Info, len(report.NotScanned))
		if len(report.Files) > 0 {
			line += fmt.Sprintf("; %d files scanned, %d skipped", len(report.Scanned), len(report.Files)-len(report.Scanned))
		}
		if opts.output != "" {
			line += "; report written to " + opts.output
		}
		fmt.Fprintf(stderr, "%s: %s\n", c.Name, line)
	}
	return code
}

// parse parses flags given before, between or after the paths. Flags are GNU
// style (--format sarif, --format=sarif, -o FILE); -h and --help print the usage
// on stdout and return pflag.ErrHelp.
func (c Command) parse(args []string, stdout, stderr io.Writer) (options, error) {
	fs := pflag.NewFlagSet(c.Name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	var o options
	var failOn string
	fs.StringVarP(&o.format, "format", "f", "table", "report `FORMAT`: "+strings.Join(Formats, ", "))
	fs.StringVarP(&o.output, "output", "o", "", "write the report to `FILE` instead of standard output")
	fs.StringVar(&failOn, "fail-on", "high", "lowest `SEVERITY` that makes the exit code 1: critical, high, medium, low or info")
	fs.BoolVar(&o.noColor, "no-color", false, "never colour the output (also: NO_COLOR set to anything)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress display on stderr")
	if c.Extension != nil {
		c.Extension.AddFlags(fs)
	}
	fs.BoolP("help", "h", false, "show this help")
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprint(stdout, c.Usage+fs.FlagUsages())
		} else {
			err = fmt.Errorf("%w (see %s --help)", err, c.Name)
		}
		return o, err
	}
	if h, _ := fs.GetBool("help"); h {
		fmt.Fprint(stdout, c.Usage+fs.FlagUsages())
		return o, pflag.ErrHelp
	}
	o.paths = fs.Args()
	if !slices.Contains(Formats, o.format) {
		return o, fmt.Errorf("--format %q: want %s", o.format, strings.Join(Formats, ", "))
	}
	sev, err := scan.ParseSeverity(failOn)
	if err != nil {
		return o, fmt.Errorf("--fail-on: %w", err)
	}
	o.failOn = sev
	switch {
	case c.Extension != nil && c.Extension.Active():
		return o, c.Extension.Check(o.paths)
	case len(o.paths) == 0:
		return o, fmt.Errorf("no PATH given (see %s --help)", c.Name)
	case c.Extension != nil:
		return o, c.Extension.Check(o.paths)
	}
	return o, nil
}

// scanPaths runs artifact.ScanPaths with the terminal's progress bar and
// warnings logged to stderr.
func scanPaths(ctx context.Context, paths []string, hash bool, stderr io.Writer, bar *progress) (scan.Report, error) {
	defer bar.finish()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return artifact.ScanPaths(ctx, artifact.PathScan{Paths: paths, Hash: hash, Logger: log, Progress: bar.update, NextPath: bar.next})
}

// writeReport writes the report in the chosen format to --output or stdout.
func writeReport(r scan.Report, o options, stdout io.Writer, color bool) (err error) {
	w := stdout
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return fmt.Errorf("create report: %w", err)
		}
		defer func() {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("write report: %w", cerr)
			}
		}()
		w = f
	}
	switch o.format {
	case "json":
		return r.WriteJSON(w)
	case "sarif":
		return r.WriteSARIF(w)
	case "html":
		return r.WriteHTML(w)
	case "cyclonedx":
		return r.WriteCycloneDX(w)
	}
	return r.WriteTable(w, scan.TableOptions{Color: color})
}
