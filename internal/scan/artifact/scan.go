package artifact

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"mirror/internal/scan"
)

// Options bounds a scan. Zero fields take the defaults documented on each.
type Options struct {
	// MaxNesting is how deep containers may nest (an archive in an archive, a
	// pickle in a bytes value); deeper content is a finding. Default 8.
	MaxNesting int
	// MaxDecompressedBytes caps how much one compressed member or stream is
	// decompressed for scanning; the rest is reported as not scanned. Default 4 GiB.
	MaxDecompressedBytes int64
	// MaxArchiveDecompressedBytes caps how much one 7z archive is decompressed in
	// all: its members together, counting what a solid stream decodes to reach a
	// later member. Members past it are reported as not scanned. Default 16 GiB.
	MaxArchiveDecompressedBytes int64
	// MaxCompressionRatio is the declared uncompressed/compressed ratio above which
	// an archive member is a decompression bomb. Default 1040, just past what
	// DEFLATE can honestly reach.
	MaxCompressionRatio float64
	// MaxPickleMemory is the memory one pickle's symbolic machine may use for
	// values and memo; past it values are tracked without content. Default 64 MiB.
	MaxPickleMemory int64
	// MaxHeaderBytes caps a format's header (safetensors JSON, GGUF strings, JSON
	// configs, NumPy headers) read into memory. Default 100 MiB, safetensors' own limit.
	MaxHeaderBytes int64
	// MaxInMemory is the largest nested archive buffered in memory when it cannot be
	// read in place (an archive inside a compressed member). Default 64 MiB.
	MaxInMemory int64
	// MaxFindings caps findings per scan; extras are counted in not_scanned. Default 1000.
	MaxFindings int
	// Workers is how many files of a folder are scanned at once. Each scan's
	// memory is bounded by the limits above, so a folder scan holds at most
	// Workers times one file's bound. Default GOMAXPROCS, at most 4.
	Workers int
	// Progress, when set, receives files done of files total.
	Progress scan.ProgressFunc
	// Logger receives debug notes; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	o.MaxNesting = cmp.Or(o.MaxNesting, 8)
	o.MaxDecompressedBytes = cmp.Or(o.MaxDecompressedBytes, 4<<30)
	o.MaxArchiveDecompressedBytes = cmp.Or(o.MaxArchiveDecompressedBytes, 16<<30)
	o.MaxCompressionRatio = cmp.Or(o.MaxCompressionRatio, 1040)
	o.MaxPickleMemory = cmp.Or(o.MaxPickleMemory, 64<<20)
	o.MaxHeaderBytes = cmp.Or(o.MaxHeaderBytes, 100<<20)
	o.MaxInMemory = cmp.Or(o.MaxInMemory, 64<<20)
	o.MaxFindings = cmp.Or(o.MaxFindings, 1000)
	o.Workers = cmp.Or(o.Workers, min(runtime.GOMAXPROCS(0), 4))
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Scan scans a model file, or every file under a directory (recursively, in
// lexical order). Findings are reported under the paths as given. Files that
// cannot be read or whose format is not supported are returned in notScanned,
// never treated as clean. err is non-nil only when path itself cannot be read or
// ctx ends.
func Scan(ctx context.Context, path string, opts Options) (findings []scan.Finding, notScanned []scan.NotScanned, err error) {
	opts = opts.withDefaults()
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", path, err)
	}
	if !info.IsDir() {
		if opts.Progress != nil {
			opts.Progress(0, 1, path)
		}
		f, ns, err := ScanFile(ctx, path, path, opts)
		if opts.Progress != nil && err == nil {
			opts.Progress(1, 1, path)
		}
		return f, ns, err
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			notScanned = append(notScanned, scan.NotScanned{Path: p, Reason: fmt.Sprintf("cannot read: %v", err)})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case d.IsDir():
		case d.Type()&fs.ModeSymlink != 0:
			// Symlinks to files are scanned (model hubs' caches use them); links to
			// directories are not followed, so a loop cannot trap the walk.
			if st, err := os.Stat(p); err != nil {
				notScanned = append(notScanned, scan.NotScanned{Path: p, Reason: fmt.Sprintf("broken symlink: %v", err)})
			} else if st.Mode().IsRegular() {
				files = append(files, p)
			} else {
				notScanned = append(notScanned, scan.NotScanned{Path: p, Reason: "symlink to a directory or device is not followed"})
			}
		case d.Type().IsRegular():
			files = append(files, p)
		default:
			notScanned = append(notScanned, scan.NotScanned{Path: p, Reason: "not a regular file"})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", path, err)
	}
	// Files are scanned in parallel by opts.Workers goroutines, each file by
	// its own format (found from its content); results are merged in lexical
	// order so a report does not depend on scheduling.
	type result struct {
		findings   []scan.Finding
		notScanned []scan.NotScanned
	}
	results := make([]result, len(files))
	var next, done atomic.Int64
	var progressMu sync.Mutex
	var wg sync.WaitGroup
	for range min(opts.Workers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) || ctx.Err() != nil {
					return
				}
				p := files[i]
				f, ns, err := ScanFile(ctx, p, p, opts)
				if err != nil && ctx.Err() == nil {
					ns = []scan.NotScanned{{Path: p, Reason: err.Error()}}
				}
				results[i] = result{f, ns}
				if opts.Progress != nil {
					progressMu.Lock()
					opts.Progress(int(done.Add(1)), len(files), p)
					progressMu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", path, err)
	}
	for _, r := range results {
		findings = append(findings, r.findings...)
		notScanned = append(notScanned, r.notScanned...)
	}
	if opts.Progress != nil {
		opts.Progress(len(files), len(files), "done")
	}
	return findings, notScanned, nil
}

// ScanFile scans one file stored at path and reports it as displayName (the API
// stores uploads under internal names but reports their original filename).
func ScanFile(ctx context.Context, path, displayName string, opts Options) (findings []scan.Finding, notScanned []scan.NotScanned, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", displayName, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("scan %s: %w", displayName, err)
	}
	if !info.Mode().IsRegular() {
		return nil, []scan.NotScanned{{Path: displayName, Reason: "not a regular file"}}, nil
	}
	return scanReaderAt(ctx, f, info.Size(), displayName, path, opts)
}

// ScanReaderAt scans size bytes of r as one file named displayName. Reads are
// bounded: tensor data is skipped, not read.
func ScanReaderAt(ctx context.Context, r io.ReaderAt, size int64, displayName string, opts Options) (findings []scan.Finding, notScanned []scan.NotScanned, err error) {
	return scanReaderAt(ctx, r, size, displayName, "", opts)
}

// scanReaderAt is ScanReaderAt for a file stored at fsPath ("" when the bytes
// have no place on disk), whose siblings may describe it (a checkpoint's index
// beside its data shards).
func scanReaderAt(ctx context.Context, r io.ReaderAt, size int64, displayName, fsPath string, opts Options) (findings []scan.Finding, notScanned []scan.NotScanned, err error) {
	opts = opts.withDefaults()
	s := newScanner(opts)
	s.fsPath = fsPath
	in := s.regionAt(r, 0, size, loc{file: displayName, fileOff: 0})
	if err := s.scanRegion(ctx, in); err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("scan %s: %w", displayName, ctx.Err())
		}
		return nil, nil, fmt.Errorf("scan %s: %w", displayName, err)
	}
	f, ns := s.c.finish(displayName)
	return f, ns, nil
}

// scanner dispatches regions of bytes to the parser for their format.
type scanner struct {
	opts   Options
	c      *collector
	a      *analyzer
	fsPath string // where the scanned file is stored, "" when unknown
	// members opens, by name, members of the archive whose members are being
	// scanned (a checkpoint shard's index beside it); nil outside archives.
	members func(name string) (io.ReaderAt, int64, bool)
}

func newScanner(opts Options) *scanner {
	s := &scanner{opts: opts, c: newCollector(opts)}
	s.a = &analyzer{opts: opts, c: s.c}
	s.a.nested = s.scanNestedArchive
	return s
}

// region is a run of bytes to scan: a stream positioned at its start (stream
// offset base), its size when known (-1 if not), random access when the bytes sit
// uncompressed in a file (ra, offset 0 = region start), and its location.
type region struct {
	st   *stream
	base int64
	size int64
	ra   io.ReaderAt
	l    loc
}

// regionAt makes a region for size bytes of r starting at off.
func (s *scanner) regionAt(r io.ReaderAt, off, size int64, l loc) region {
	sec := io.NewSectionReader(r, off, size)
	st := newStreamSize(sec, size)
	st.setLimit(size)
	return region{st: st, base: 0, size: size, ra: sec, l: l}
}

// format names what the sniffer recognised.
type format string

const (
	fmtZip         format = "zip"
	fmtNPY         format = "npy"
	fmtHDF5        format = "hdf5"
	fmtGGUF        format = "gguf"
	fmtGzip        format = "gzip"
	fmtZlib        format = "zlib"
	fmtBzip2       format = "bzip2"
	fmtXZ          format = "xz"
	fmtLZ4         format = "lz4"
	fmtZstd        format = "zstd"
	fmtTar         format = "tar"
	fmtSafetensors format = "safetensors"
	fmtPickle      format = "pickle"
	fmtPickle0     format = "pickle (protocol 0/1)"
	fmtONNX        format = "onnx"
	fmtSavedModel  format = "savedmodel"
	fmtTFIndex     format = "tensorflow checkpoint index"
	fmtTFPrint     format = "tensorflow fingerprint"
	fmtJSON        format = "json"
	fmtUBJSON      format = "ubjson"
	fmtText        format = "text"
	fmtEmpty       format = "empty"
	fmtUnknown     format = "unknown"
)

// sniff recognises a format from the first bytes, never from the file name.
func (s *scanner) sniff(head []byte, size int64) format {
	switch {
	case len(head) == 0:
		return fmtEmpty
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")), bytes.HasPrefix(head, []byte("PK\x06\x06")):
		return fmtZip
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return fmtNPY
	case bytes.HasPrefix(head, []byte("\x89HDF\r\n\x1a\n")):
		return fmtHDF5
	case bytes.HasPrefix(head, []byte("GGUF")):
		return fmtGGUF
	case bytes.HasPrefix(head, sig7z):
		return fmt7z
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return fmtGzip
	case len(head) >= 2 && head[0] == 0x78 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0:
		return fmtZlib
	case len(head) >= 4 && bytes.HasPrefix(head, []byte("BZh")) && head[3] >= '1' && head[3] <= '9':
		return fmtBzip2
	case bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")):
		return fmtXZ
	case bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18}):
		return fmtLZ4
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return fmtZstd
	case joblibZHeader(head) > 0:
		return fmtJoblibZFile // joblibz.go
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return fmtTar
	case looksTarV7(head):
		return fmtTar // tar.go: old tar without the ustar magic, before pickle sniffing
	case looksLZMAAlone(head):
		return fmtLZMA // containers.go
	case looksSafetensors(head):
		return fmtSafetensors
	case head[0] == opPROTO && len(head) >= 2 && head[1] <= 5:
		return fmtPickle
	case looksSavedModel(head):
		return fmtSavedModel
	case looksTFFingerprint(head, size):
		return fmtTFPrint
	case looksCoreML(head): // coreml.go; before ONNX, which opens alike
		return fmtCoreML
	case looksONNX(head):
		return fmtONNX
	case head[0] == opPROTO:
		return fmtPickle
	case validOpcode[head[0]] && looksPickle0(head, size, s.opts):
		return fmtPickle0
	case looksJSON(head):
		return fmtJSON
	case looksUBJSON(head):
		return fmtUBJSON
	case looksText(head):
		return fmtText
	}
	if i := bytes.Index(head, []byte("\x89HDF\r\n\x1a\n")); i > 0 && i%512 == 0 {
		return fmtHDF5 // HDF5 with a user block
	}
	return fmtUnknown
}

// scanRegion scans one region in the format its content shows.
func (s *scanner) scanRegion(ctx context.Context, in region) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if in.l.depth > s.opts.MaxNesting {
		s.c.add(in.l, ruleNestingTooDeep, -1, nil, s.opts.MaxNesting)
		return nil
	}
	// Raw tensor bytes have no header: a checkpoint's data shard is known by
	// the index beside it, before its bytes are taken for anything else.
	if handled, err := s.scanTFShard(ctx, in); handled || err != nil {
		return err
	}
	head := in.st.Peek(4096)
	f := s.sniff(head, in.size)
	s.opts.Logger.DebugContext(ctx, "scan region", "path", in.l.where(), "format", string(f), "size", in.size)
	var err error
	switch f {
	case fmtEmpty:
		return nil
	case fmtZip:
		err = s.scanZipRegion(ctx, in)
	case fmtNPY:
		err = s.scanNPY(ctx, in)
	case fmtHDF5:
		err = s.scanHDF5(ctx, in)
	case fmtGGUF:
		err = s.scanGGUF(ctx, in)
	case fmtGzip, fmtZlib, fmtBzip2, fmtXZ, fmtLZMA, fmtJoblibZFile:
		err = s.scanCompressed(ctx, in, f)
	case fmtLZ4, fmtZstd:
		s.c.skip(in.l, "%s-compressed data is not supported by this scanner", f)
	case fmtTar:
		err = s.scanTar(ctx, in)
	case fmt7z:
		err = s.scan7z(ctx, in)
	case fmtSafetensors:
		err = s.scanSafetensors(ctx, in)
	case fmtPickle:
		err = s.a.scanPicklesAt(ctx, in.st, in.l, in.base, false)
	case fmtPickle0:
		err = s.a.scanPicklesAt(ctx, in.st, in.l, in.base, false)
	case fmtONNX:
		err = s.scanONNX(ctx, in)
	case fmtCoreML:
		err = s.scanCoreML(ctx, in)
	case fmtSavedModel:
		err = s.scanSavedModel(ctx, in)
	case fmtTFPrint:
		// A SavedModel's fingerprint: hashes and a version, nothing that runs.
	case fmtJSON:
		err = s.scanJSON(ctx, in)
	case fmtUBJSON:
		// Universal Binary JSON (XGBoost's .ubj models): typed numbers, strings
		// and containers, with no way to name code; nothing in it runs on load.
	case fmtText:
		// Protocol 0 pickles are text: one the sniffer did not take for a pickle
		// (CPython loads what no sniffer fully parses) is still searched for
		// GLOBAL/INST lines naming dangerous imports, so it cannot pass as clean.
		maybePickle := validOpcode[head[0]]
		if maybePickle && in.ra != nil {
			err = s.textAsPickle(ctx, in)
		}
		if err == nil {
			err = s.scanText(ctx, in)
		}
		if err == nil && maybePickle {
			s.a.salvageUpTo(in.st, in.l, in.base, "in a file that looks like text (a protocol 0 pickle is text)", math.MaxInt64, true)
		}
	default:
		if in.ra == nil && in.size >= 0 && in.size <= maxSiblingMember {
			// A small compressed member: read it whole so the formats found
			// by their end (a checkpoint index's footer) are recognised too.
			buf, rerr := io.ReadAll(io.LimitReader(eofReader{in.st}, in.size))
			if rerr != nil {
				s.c.skip(in.l, "compressed data cannot be read (%v); not scanned", rerr)
				return nil
			}
			in = region{st: newStreamBytes(buf), size: int64(len(buf)), ra: bytes.NewReader(buf), l: in.l}
		}
		if f = sniffMore(head, in.ra, in.size); f != fmtUnknown {
			err = s.scanMore(ctx, in, f) // hfformats.go
			break
		}
		var handled bool
		if handled, err = s.scanDescribedData(ctx, in); handled { // datafiles.go
			break
		}
		if d := dataFormat(head); d != "" {
			f = d // datafmt.go: images, audio, arrays and tables, nothing that runs
			break
		}
		s.c.skip(in.l, "unrecognised format (first bytes %q); not scanned", quote(string(head[:min(len(head), 8)]), 16))
	}
	if err != nil {
		return err
	}
	// A file that is not a zip at its start but ends with a zip directory is a
	// polyglot: PyTorch and Python's zipfile may read the zip part, while a loader
	// that looks at the start reads the other format. Both are scanned.
	if f != fmtZip && in.ra != nil && in.size > 22 && hasEOCD(in.ra, in.size) {
		return s.scanZip(ctx, in.ra, in.size, in.l)
	}
	return nil
}

// textAsPickle parses a text region as a protocol 0 pickle on a second stream:
// when it runs cleanly to STOP it is one (text does not by chance), whatever the
// sniffer thought of its first 4 KiB, and what it imports is reported.
func (s *scanner) textAsPickle(ctx context.Context, in region) error {
	st := newStreamSize(io.NewSectionReader(in.ra, 0, in.size), in.size)
	defer st.release()
	st.setLimit(in.size)
	m := s.a.newMachine(ctx, st, in.l, true)
	defer m.release()
	res, err := m.run()
	if err != nil {
		return err
	}
	if res.stopped && m.firstErr == "" && importsResolve(m.imports) {
		m.report(true)
	}
	return nil
}

// scanNestedArchive scans an archive found inside a pickle's bytes value: in place
// when the bytes sit uncompressed in the file, else buffered when small enough.
func (s *scanner) scanNestedArchive(ctx context.Context, st *stream, n int64, l loc) error {
	if n > s.opts.MaxInMemory {
		s.c.skip(l, "nested archive of %d bytes is larger than the in-memory limit (%d bytes)", n, s.opts.MaxInMemory)
		return nil
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(st, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, errTruncated) {
			return nil
		}
		return fmt.Errorf("read nested archive: %w", err)
	}
	return s.scanZip(ctx, bytes.NewReader(buf), n, l)
}
