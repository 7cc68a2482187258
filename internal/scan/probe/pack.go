package probe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bounds on a user's probe pack. A pack is untrusted input (uploaded through the
// API, or any file given to --probes): its size, its YAML node count with aliases
// expanded (a "billion laughs" document is refused before it is decoded), its
// probes and their parts are all bounded, and its templates render within the
// bounds of renderFor.
const (
	MaxPackBytes     = 1 << 20 // the ceiling of MAX_PROBE_PACK_BYTES: a few hundred probes
	MaxPackProbes    = 1000
	maxPackNodes     = 200_000 // YAML nodes, aliases expanded
	maxPackSessions  = 8
	maxPackTurns     = 32 // per session
	maxPackListItems = 32 // markers, patterns, secrets, variant lists and their values
	maxPackField     = 32 << 10
	maxPackIssues    = 50
)

// Issue is one problem of a probe pack: the file, the probe (its index in probes
// and its id, when it has one), the field as written in the file, and what is
// wrong. Line is the probe's or the document's line, when known.
type Issue struct {
	File    string
	Index   int // index in probes; -1 for the file as a whole
	Probe   string
	Field   string
	Line    int
	Message string
}

// Path names the field as the API reports it: "probes[2].success.kind".
func (i Issue) Path() string {
	if i.Index < 0 {
		return i.Field
	}
	p := fmt.Sprintf("probes[%d]", i.Index)
	if i.Field != "" {
		p += "." + i.Field
	}
	return p
}

func (i Issue) String() string {
	var b strings.Builder
	b.WriteString(i.File)
	if i.Line > 0 {
		fmt.Fprintf(&b, ":%d", i.Line)
	}
	if i.Index >= 0 {
		fmt.Fprintf(&b, ": probe %d", i.Index+1)
		if i.Probe != "" {
			fmt.Fprintf(&b, " (%s)", i.Probe)
		}
	}
	if i.Field != "" {
		b.WriteString(": " + i.Field)
	}
	return b.String() + ": " + i.Message
}

// PackError lists every issue found in one or more probe packs.
type PackError struct {
	Issues []Issue
}

func (e *PackError) Error() string {
	lines := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		lines[i] = is.String()
	}
	return "invalid probe pack: " + strings.Join(lines, "; ")
}

// ParsePack parses and validates one probe pack: YAML or JSON (a JSON document is
// YAML) in the schema of the built-in probe files. name is the file's name, used
// in issues. Ids must not reuse a built-in probe's id. Errors are a *PackError.
func ParsePack(name string, data []byte) ([]Probe, error) {
	fail := func(line int, field, format string, args ...any) error {
		return &PackError{Issues: []Issue{{File: name, Index: -1, Field: field, Line: line, Message: fmt.Sprintf(format, args...)}}}
	}
	if len(data) > MaxPackBytes {
		return nil, fail(0, "", "is %d bytes, at most %d", len(data), MaxPackBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail(0, "", "is empty")
	}
	// First the bare node tree (aliases not expanded), to bound the decoded size.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fail(0, "", "is not valid YAML or JSON: %s", yamlMessage(err))
	}
	if n := expandedNodes(&doc, map[*yaml.Node]int{}, 0); n > maxPackNodes {
		return nil, fail(0, "", "expands to more than %d YAML nodes (aliases counted each time they are used)", maxPackNodes)
	}
	var f probeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fail(0, "", "%s", yamlMessage(err))
	}
	if f.Schema != fileSchema {
		return nil, fail(0, "schema", "is %d, want %d", f.Schema, fileSchema)
	}
	switch {
	case len(f.Probes) == 0:
		return nil, fail(0, "probes", "lists no probe")
	case len(f.Probes) > MaxPackProbes:
		return nil, fail(0, "probes", "lists %d probes, at most %d", len(f.Probes), MaxPackProbes)
	}
	lines := probeLines(&doc)
	builtin := map[string]bool{}
	for _, p := range Catalog() {
		builtin[p.ID] = true
	}
	var issues []Issue
	seen := map[string]int{}
	for i := range f.Probes {
		p := &f.Probes[i]
		p.file = name
		issue := func(err error) {
			is := Issue{File: name, Index: i, Probe: p.ID, Message: err.Error()}
			if i < len(lines) {
				is.Line = lines[i]
			}
			var fe *fieldError
			if errors.As(err, &fe) {
				is.Field, is.Message = fe.field, fe.msg
			}
			issues = append(issues, is)
		}
		if err := p.bounds(); err != nil {
			issue(err)
			continue
		}
		p.normalize()
		if err := p.validate(); err != nil {
			issue(err)
			continue
		}
		if builtin[p.ID] {
			issue(fieldErr("id", "%q is a built-in probe's id; choose another", p.ID))
			continue
		}
		if j, dup := seen[p.ID]; dup {
			issue(fieldErr("id", "%q is already used by probe %d", p.ID, j+1))
			continue
		}
		seen[p.ID] = i
		if len(issues) >= maxPackIssues {
			break
		}
	}
	if len(issues) > 0 {
		return nil, &PackError{Issues: issues}
	}
	return f.Probes, nil
}

// bounds checks the sizes of a probe's parts, before anything is rendered.
func (p *Probe) bounds() error {
	long := func(field, s string) error {
		if len(s) > maxPackField {
			return fieldErr(field, "is %d bytes, at most %d", len(s), maxPackField)
		}
		return nil
	}
	list := func(field string, xs []string) error {
		if len(xs) > maxPackListItems {
			return fieldErr(field, "has %d items, at most %d", len(xs), maxPackListItems)
		}
		for i, x := range xs {
			if err := long(fmt.Sprintf("%s[%d]", field, i), x); err != nil {
				return err
			}
		}
		return nil
	}
	if len(p.Sessions) > maxPackSessions {
		return fieldErr("sessions", "has %d sessions, at most %d", len(p.Sessions), maxPackSessions)
	}
	if len(p.Vars) > maxPackListItems {
		return fieldErr("vars", "has %d lists, at most %d", len(p.Vars), maxPackListItems)
	}
	errs := []error{long("system", p.System), long("context", p.Context), long("purpose", p.Purpose),
		long("description", p.Description), long("title", p.Title), long("remediation", p.Remediation),
		list("turns", p.Turns), list("success.markers", p.Success.Markers), list("success.patterns", p.Success.Patterns),
		list("success.secrets", p.Success.Secrets), long("success.expect", p.Success.Expect)}
	if len(p.Turns) > maxPackTurns {
		errs = append(errs, fieldErr("turns", "has %d turns, at most %d", len(p.Turns), maxPackTurns))
	}
	for i, s := range p.Sessions {
		f := fmt.Sprintf("sessions[%d]", i)
		if len(s.Turns) > maxPackTurns {
			errs = append(errs, fieldErr(f+".turns", "has %d turns, at most %d", len(s.Turns), maxPackTurns))
		}
		errs = append(errs, long(f+".system", s.System), long(f+".context", s.Context), list(f+".turns", s.Turns))
	}
	keys := make([]string, 0, len(p.Vars))
	for k := range p.Vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		errs = append(errs, list("vars."+k, p.Vars[k]))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// expandedNodes counts n's nodes with every alias expanded, stopping early past
// maxPackNodes. memo holds the counts of anchored nodes already seen.
func expandedNodes(n *yaml.Node, memo map[*yaml.Node]int, depth int) int {
	if n == nil {
		return 0
	}
	if depth > 1000 {
		return maxPackNodes + 1
	}
	if c, ok := memo[n]; ok {
		return c
	}
	if n.Kind == yaml.AliasNode {
		c := expandedNodes(n.Alias, memo, depth+1)
		memo[n] = c
		return c
	}
	total := 1
	for _, c := range n.Content {
		total += expandedNodes(c, memo, depth+1)
		if total > maxPackNodes {
			break
		}
	}
	memo[n] = total
	return total
}

// probeLines returns the line of each item of the document's probes list.
func probeLines(doc *yaml.Node) []int {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "probes" && m.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, item := range m.Content[i+1].Content {
				out = append(out, item.Line)
			}
			return out
		}
	}
	return nil
}

// yamlMessage shortens a YAML error to its first lines.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if lines := strings.Split(msg, "\n"); len(lines) > 4 {
		msg = strings.Join(lines[:4], "; ") + fmt.Sprintf("; and %d more", len(lines)-4)
	}
	return strings.ReplaceAll(msg, "\n", "; ")
}

// packExts are the file names LoadPacks reads from a folder.
var packExts = []string{".yaml", ".yml", ".json"}

// LoadPacks reads the probe packs at path: one file, or every .yaml, .yml and .json
// file of a folder (not its subfolders), in name order. Ids must be unique across
// the packs. Errors name the file, the probe and the field (a *PackError), or the
// path that could not be read.
func LoadPacks(path string) ([]Probe, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("probe packs: %w", err)
	}
	files := []string{path}
	if info.IsDir() {
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("probe packs: %w", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && slices.Contains(packExts, strings.ToLower(filepath.Ext(e.Name()))) {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("probe packs: no .yaml, .yml or .json file in %s", path)
		}
	}
	var all []Probe
	var issues []Issue
	where := map[string]string{}
	for _, name := range files {
		data, err := readBounded(name)
		if err != nil {
			return nil, err
		}
		ps, err := ParsePack(name, data)
		var pe *PackError
		if errors.As(err, &pe) {
			issues = append(issues, pe.Issues...)
			continue
		} else if err != nil {
			return nil, err
		}
		for i, p := range ps {
			if other, dup := where[p.ID]; dup {
				issues = append(issues, Issue{File: name, Index: i, Probe: p.ID, Field: "id", Message: fmt.Sprintf("%q is already used in %s", p.ID, other)})
				continue
			}
			where[p.ID] = name
			all = append(all, p)
		}
	}
	if len(issues) > 0 {
		return nil, &PackError{Issues: issues}
	}
	return all, nil
}

// readBounded reads a file of at most MaxPackBytes, refusing a larger one without
// reading it whole.
func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("probe pack: %w", err)
	}
	defer f.Close()
	buf := make([]byte, MaxPackBytes+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("probe pack %s: %w", name, err)
	}
	if n > MaxPackBytes {
		return nil, &PackError{Issues: []Issue{{File: name, Index: -1, Message: fmt.Sprintf("is larger than %d bytes", MaxPackBytes)}}}
	}
	return buf[:n], nil
}

// WithPacks returns the built-in catalog followed by extra probes (a copy).
func WithPacks(extra []Probe) []Probe {
	return append(slices.Clone(Catalog()), extra...)
}
