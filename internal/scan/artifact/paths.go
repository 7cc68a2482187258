package artifact

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"mirror/internal/scan"
)

// PathScan is a scan of model files and folders the user names on the command
// line, as `mirror scan PATH...` runs it.
type PathScan struct {
	Paths []string
	// Hash also reads every file whole for its SHA-256 (the scan itself skips tensor
	// data: a few KiB of a multi-GB checkpoint).
	Hash   bool
	Logger *slog.Logger // nil: nothing is logged
	// Progress receives done of total units of the path being scanned, then of the
	// hashing; NextPath is called as each path ends. Either may be nil.
	Progress scan.ProgressFunc
	NextPath func()
}

// ScanPaths scans each path; a path that cannot be read is reported as not
// scanned so the report stays complete and the exit code says so. Every file the
// scanner visits is listed with its size and detected format, and with its
// SHA-256 when s.Hash is set. The error is only that ctx ended.
func ScanPaths(ctx context.Context, s PathScan) (scan.Report, error) {
	progress := s.Progress
	if progress == nil {
		progress = func(int, int, string) {}
	}
	var findings []scan.Finding
	var notScanned []scan.NotScanned
	var visited []string
	seen := map[string]bool{}
	for _, p := range s.Paths {
		opts := Options{Logger: s.Logger, Progress: func(done, total int, step string) {
			// Scan names each file (a single file as it starts and ends it, a
			// folder's files as each ends, in parallel) and then says "done".
			if !seen[step] && (done < total || step != "done") {
				seen[step] = true
				visited = append(visited, step)
			}
			progress(done, total, step)
		}}
		f, ns, err := Scan(ctx, p, opts)
		if s.NextPath != nil {
			s.NextPath()
		}
		if err != nil {
			if ctx.Err() != nil {
				return scan.Report{}, fmt.Errorf("interrupted: %w", ctx.Err())
			}
			notScanned = append(notScanned, scan.NotScanned{Path: p, Reason: err.Error()})
			continue
		}
		findings = append(findings, f...)
		notScanned = append(notScanned, ns...)
	}
	slices.Sort(visited) // a folder's files end in any order
	files := make([]scan.File, 0, len(visited))
	for i, p := range visited {
		if s.Hash {
			progress(i, len(visited), "sha256 "+p)
		}
		fi, err := describeFile(ctx, p, s.Hash)
		if err != nil {
			if ctx.Err() != nil {
				return scan.Report{}, fmt.Errorf("interrupted: %w", ctx.Err())
			}
			notScanned = append(notScanned, scan.NotScanned{Path: p, Reason: "cannot hash: " + err.Error()})
		}
		files = append(files, fi)
	}
	r := scan.NewReport(strings.Join(s.Paths, " "), scan.ApplicableTypes(scan.TargetArtifact), findings, notScanned)
	return r.WithFiles(files), nil
}
