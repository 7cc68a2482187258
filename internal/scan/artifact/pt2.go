package artifact

import (
	"encoding/json"
	"io"
	"path"
	"strings"
)

// torch.export archives (.pt2: torch.export.save and AOTInductor packages, the
// PT2 archive format) keep each model's weights and constants as members named
// by a config beside them (<pkg>/data/weights/<model>_weights_config.json,
// <pkg>/data/constants/<model>_constants_config.json). An entry with
// use_pickle false is a tensor's raw bytes, which torch.export.load reads with
// torch.frombuffer; with use_pickle true, a torch.save pickle. The raw members
// are storages, as a checkpoint's data/N are: never unpickled, so never read as
// pickles (a float's first byte is 0x80, PROTO, as often as not). A member some
// entry loads with pickle stays a pickle to scan.

// maxExportConfig bounds a weights or constants config read into memory.
const maxExportConfig = 16 << 20

// markExportWeights marks the raw weight and constant members of the torch.export
// archives in a zip as storages.
func markExportWeights(ra io.ReaderAt, entries []zipEntry) {
	open := zipMembers(ra, entries)
	var raw, pickled map[string]bool
	for _, e := range entries {
		name := strings.ToLower(e.name) // torch's reader matches names ignoring case
		dir, base := path.Split(name)
		if !(strings.HasSuffix(dir, "data/weights/") && strings.HasSuffix(base, "_weights_config.json") ||
			strings.HasSuffix(dir, "data/constants/") && strings.HasSuffix(base, "_constants_config.json")) ||
			e.uncompSize > maxExportConfig {
			continue
		}
		r, size, ok := open(e.name)
		if !ok {
			continue
		}
		b, err := io.ReadAll(io.NewSectionReader(r, 0, size))
		var cfg struct {
			Config map[string]struct {
				PathName  string `json:"path_name"`
				UsePickle bool   `json:"use_pickle"`
			} `json:"config"`
		}
		if err != nil || json.Unmarshal(b, &cfg) != nil {
			continue // not a config: its members stay scanned as whatever they are
		}
		if raw == nil {
			raw, pickled = map[string]bool{}, map[string]bool{}
		}
		for _, w := range cfg.Config {
			if w.PathName == "" || strings.ContainsAny(w.PathName, "/\\") {
				continue
			}
			member := dir + strings.ToLower(w.PathName)
			if w.UsePickle {
				pickled[member] = true
			} else {
				raw[member] = true
			}
		}
	}
	for i := range entries {
		if n := strings.ToLower(entries[i].name); raw[n] && !pickled[n] {
			entries[i].storage = true
		}
	}
}
