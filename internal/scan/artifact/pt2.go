package artifact

import (
	"encoding/json"
	"io"
	"path"
	"strings"
)

// torch.export archives (.pt2: torch.export.save and AOTInductor packages, the
// PT2 archive format, marked by <pkg>/archive_format) keep each model's weights
// and constants as members named by a config beside them
// (<pkg>/data/weights/<model>_weights_config.json,
// <pkg>/data/constants/<model>_constants_config.json). An entry with
// use_pickle false is a tensor's raw bytes (weight_N, tensor_N), which
// torch.export.load reads with torch.frombuffer. Read as a format, such bytes
// are noise: a float's first byte is 0x80 (PROTO) as often as not, which made a
// real export a "corrupt pickle", and most are "not scanned". They are still
// scanned like any member, because a config is the attacker's to write and
// torch unpickles some members whatever it says (opaque_obj_N, a legacy
// <model>.pt, everything under load_weights_from_disk); only what a misreading
// of numbers produces is dropped (dropNumberNoise).

// Bounds on the configs read from one zip.
const (
	maxExportConfig  = 16 << 20 // bytes of one config
	maxExportConfigs = 64
)

// markExportWeights marks the members that a torch.export archive's configs
// declare raw tensor bytes.
func markExportWeights(ra io.ReaderAt, entries []zipEntry) {
	var pkgs map[string]bool // <pkg>/ of each archive_format member, lower-cased
	for _, e := range entries {
		// every zip passes here: compare without lower-casing each name
		if dir, base := path.Split(e.name); strings.EqualFold(base, "archive_format") {
			if pkgs == nil {
				pkgs = map[string]bool{}
			}
			pkgs[strings.ToLower(dir)] = true
		}
	}
	if pkgs == nil {
		return
	}
	open := zipMembers(ra, entries)
	raw, pickled := map[string]bool{}, map[string]bool{}
	read := 0
	for _, e := range entries {
		name := strings.ToLower(e.name) // torch's reader matches names ignoring case
		dir, base := path.Split(name)
		pkg, prefix, ok := exportConfigDir(dir, base)
		if !ok || !pkgs[pkg] || e.uncompSize > maxExportConfig || e.compSize > maxExportConfig || read >= maxExportConfigs {
			continue
		}
		read++
		r, size, ok := open(e.name)
		if !ok {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(io.NewSectionReader(r, 0, size), maxExportConfig+1))
		var cfg struct {
			Config map[string]struct {
				PathName  string `json:"path_name"`
				UsePickle bool   `json:"use_pickle"`
			} `json:"config"`
		}
		if err != nil || len(b) > maxExportConfig || json.Unmarshal(b, &cfg) != nil {
			continue // not a config: the members stay what they are
		}
		for _, w := range cfg.Config {
			p := strings.ToLower(w.PathName)
			member := dir + p
			switch {
			case w.UsePickle:
				pickled[member] = true
			case strings.HasPrefix(p, prefix) && allDigits(p[len(prefix):]):
				raw[member] = true
			}
		}
	}
	for i := range entries {
		if n := strings.ToLower(entries[i].name); raw[n] && !pickled[n] {
			entries[i].rawTensor = true
		}
	}
}

// exportConfigDir recognises a weights or constants config by its folder and
// name; it returns the archive's <pkg>/ and the prefix of the raw members the
// config names (weight_, tensor_).
func exportConfigDir(dir, base string) (pkg, prefix string, ok bool) {
	if p, found := strings.CutSuffix(dir, "data/weights/"); found && strings.HasSuffix(base, "_weights_config.json") {
		return p, "weight_", true
	}
	if p, found := strings.CutSuffix(dir, "data/constants/"); found && strings.HasSuffix(base, "_constants_config.json") {
		return p, "tensor_", true
	}
	return "", "", false
}

// rawTensorNoise are the findings that numbers read as a format produce.
var rawTensorNoise = setOf("pickle.corrupt", "pickle.invalid_protocol", "pickle.declared_length",
	"pickle.frame_boundary", "pickle.trailing_data", "pickle.analysis_budget", "format.invalid")

// dropNumberNoise runs scan, the scan of a member declared raw tensor bytes,
// into a collector of its own, and keeps what it found only when some finding
// is more than noise (an import, a call, an archive inside): then the member is
// not numbers, whatever the config says.
func (s *scanner) dropNumberNoise(scan func() error) error {
	outer := s.c
	tmp := newCollector(s.opts)
	s.c, s.a.c = tmp, tmp
	err := scan()
	s.c, s.a.c = outer, outer
	for _, f := range tmp.findings {
		if rule, _ := f.Evidence["rule"].(string); !rawTensorNoise[rule] {
			for _, f := range tmp.findings {
				outer.addFinding(f)
			}
			outer.notScanned = append(outer.notScanned, tmp.notScanned...)
			break
		}
	}
	return err
}
