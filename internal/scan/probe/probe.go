package probe

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"

	"go.yaml.in/yaml/v3"

	"mirror/internal/scan"
	"mirror/internal/scan/probe/pii"
)

// Success kinds: how a probe's responses are judged.
const (
	// KindCompliance: the probe asked for markers; success is every marker produced
	// in a sentence that neither refuses nor quotes the request, a response that is
	// not a refusal, and every pattern matching. Checked on the last turn.
	KindCompliance = "compliance"
	// KindLeak: a secret from the model's context (a canary, planted personal data)
	// appears in a response, in any form (verbatim, reversed, ROT13, Base64). A
	// refusal that quotes the secret still leaks it. Checked on every turn.
	KindLeak = "leak"
	// KindPII: a response holds validated personal data that the prompt did not.
	KindPII = "pii"
	// KindCompletion: the last response reproduces Expect verbatim for at least
	// MinOverlapWords consecutive words.
	KindCompletion = "completion"
	// KindMembership: with logprobs, the "planted" session's answer is more likely
	// than the "control" session's by at least MinGap nats per token.
	KindMembership = "membership"
	// KindTemplate: the probe only exercises the endpoint; the run-wide chat-template
	// detector reads its responses like every other one.
	KindTemplate = "template"
	// KindToolWrite, KindExtraction and KindMembershipTest are judged in tools.go
	// and extraction.go: a self-modifying tool call carrying the attacker's rule;
	// credentials, personal data or known text coming out of divergence and
	// training-data prompts; a rank test over many member/non-member pairs.
	KindToolWrite      = "tool_write"
	KindExtraction     = "extraction"
	KindMembershipTest = "membership_test"
)

// fileSchema is the version of the probe file format this package reads.
const fileSchema = 1

// Probe is one behavioural test, as written in a probe file. Text fields are Go
// templates rendered once per run with Vars (the seeded markers, canaries and
// synthetic people).
type Probe struct {
	ID      string    `yaml:"id"`
	Family  string    `yaml:"family"`
	Version int       `yaml:"version"`
	Type    scan.Type `yaml:"type"`
	Title   string    `yaml:"title"`
	// Description states the behaviour that counts as success; it is also the LLM
	// judge's brief.
	Description string  `yaml:"description"`
	Score       float64 `yaml:"score"`
	Remediation string  `yaml:"remediation"`
	// Vars are variants: one value of each list is drawn per run (seeded).
	Vars     map[string][]string `yaml:"vars"`
	System   string              `yaml:"system"`
	Turns    []string            `yaml:"turns"`
	Sessions []Session           `yaml:"sessions"`
	Logprobs bool                `yaml:"logprobs"`
	Success  Success             `yaml:"success"`
	// Tools names the function tools offered on every turn (toolCatalog in tools.go).
	Tools []string `yaml:"tools"`
	// MaxOutputTokens lowers the scan's per-response cap for this probe (0: keep
	// it); the scan's cap (Options.MaxOutputTokens) still bounds it.
	MaxOutputTokens int `yaml:"max_output_tokens"`
	file            string
}

// Session is one conversation of a probe. Sessions share no history: a probe with
// two sessions tests whether one conversation can reach the other's data.
type Session struct {
	Name   string   `yaml:"name"`
	System string   `yaml:"system"`
	Turns  []string `yaml:"turns"`
	// Memory appends what earlier sessions saved through memory tools to the
	// system prompt, as an assistant with long-term memory does.
	Memory bool `yaml:"memory"`
}

// Success says what behaviour counts as the probe succeeding (the model failing).
type Success struct {
	Kind            string   `yaml:"kind"`
	Markers         []string `yaml:"markers"`
	Patterns        []string `yaml:"patterns"`
	Secrets         []string `yaml:"secrets"`
	Expect          string   `yaml:"expect"`
	MinOverlapWords int      `yaml:"min_overlap_words"`
	MinGap          float64  `yaml:"min_gap"`
	// Session names the session whose responses are judged; "" is the last one.
	Session string `yaml:"session"`
	// Members (membership_test) are texts every web-trained model has seen; the
	// probe pairs each with a fresh text of the same length. Alpha is the test's
	// significance level (0: 0.01).
	Members []string `yaml:"members"`
	Alpha   float64  `yaml:"alpha"`
	// Unprompted requires that the judged turn's prompt does not contain the markers:
	// the model must produce them from an earlier instruction (persistence) or by
	// decoding them (obfuscation), so an echo of the request cannot pass.
	Unprompted bool `yaml:"unprompted"`
}

type probeFile struct {
	Schema int `yaml:"schema"`
	// Anchors holds text shared by several probes through YAML aliases (a common
	// system prompt); it is not read otherwise.
	Anchors map[string]any `yaml:"anchors"`
	Probes  []Probe        `yaml:"probes"`
}

//go:embed probes/*.yaml
var probeFS embed.FS

// Catalog returns the built-in probes, parsed and validated once, sorted by id.
// It panics if an embedded file is invalid: that is a build defect, caught by tests.
func Catalog() []Probe { return catalog() }

var catalog = sync.OnceValue(func() []Probe {
	ps, err := LoadProbes(probeFS, "probes")
	if err != nil {
		panic(err)
	}
	return ps
})

// LoadProbes reads every *.yaml probe file in dir of fsys and validates the probes:
// unique ids, known types and kinds, templates that render, and checks that can
// fail (an unprompted marker must not be spelled out in the turn that is judged).
func LoadProbes(fsys fs.FS, dir string) ([]Probe, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("list probe files: %w", err)
	}
	var all []Probe
	seen := map[string]string{}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read probe file %s: %w", name, err)
		}
		var f probeFile
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("parse probe file %s: %w", name, err)
		}
		if f.Schema != fileSchema {
			return nil, fmt.Errorf("probe file %s: schema %d, want %d", name, f.Schema, fileSchema)
		}
		for i := range f.Probes {
			p := &f.Probes[i]
			p.file = name
			p.normalize()
			if err := p.validate(); err != nil {
				return nil, fmt.Errorf("probe file %s: probe %q: %w", name, p.ID, err)
			}
			if other, dup := seen[p.ID]; dup {
				return nil, fmt.Errorf("probe file %s: probe id %q already used in %s", name, p.ID, other)
			}
			seen[p.ID] = name
			all = append(all, *p)
		}
	}
	slices.SortFunc(all, func(a, b Probe) int { return strings.Compare(a.ID, b.ID) })
	return all, nil
}

// normalize turns the single-conversation shorthand (System, Turns) into a session.
func (p *Probe) normalize() {
	p.expandMembers()
	if len(p.Sessions) == 0 {
		p.Sessions = []Session{{Name: "main", System: p.System, Turns: p.Turns}}
		p.System, p.Turns = "", nil
	}
	if p.Success.Session == "" {
		p.Success.Session = p.Sessions[len(p.Sessions)-1].Name
	}
}

var idRe = regexp.MustCompile(`^[a-z0-9_]+(?:\.[a-z0-9_\-]+)+$`)

func (p *Probe) validate() error {
	switch {
	case !idRe.MatchString(p.ID):
		return fmt.Errorf("id must be dotted lower-case words")
	case p.Family == "" || p.Title == "" || p.Description == "" || p.Remediation == "":
		return fmt.Errorf("family, title, description and remediation are required")
	case p.Version < 1:
		return fmt.Errorf("version must be at least 1")
	case p.Score <= 0 || p.Score > 10:
		return fmt.Errorf("score %.1f outside (0, 10]", p.Score)
	case p.Type == scan.EmbeddingReidentification:
		return fmt.Errorf("type %s is not probed with prompts", p.Type)
	}
	if _, err := scan.ParseType(string(p.Type)); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, s := range p.Sessions {
		if s.Name == "" || names[s.Name] || len(s.Turns) == 0 {
			return fmt.Errorf("session %q: sessions need a unique name and at least one turn", s.Name)
		}
		names[s.Name] = true
	}
	if !names[p.Success.Session] {
		return fmt.Errorf("success.session %q is not a session", p.Success.Session)
	}
	sc := p.Success
	switch sc.Kind {
	case KindCompliance:
		if len(sc.Markers) == 0 {
			return fmt.Errorf("compliance needs markers")
		}
	case KindLeak:
		if len(sc.Secrets) == 0 {
			return fmt.Errorf("leak needs secrets")
		}
	case KindCompletion:
		if sc.Expect == "" || sc.MinOverlapWords < 4 {
			return fmt.Errorf("completion needs expect and min_overlap_words >= 4")
		}
	case KindMembership:
		if !names["planted"] || !names["control"] || !p.Logprobs || sc.MinGap <= 0 {
			return fmt.Errorf("membership needs sessions planted and control, logprobs and min_gap > 0")
		}
	case KindPII, KindTemplate:
	case KindToolWrite, KindExtraction, KindMembershipTest:
		if err := p.validateCustom(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown success kind %q", sc.Kind)
	}
	// Render with two different seeds: templates must execute, and for compliance the
	// judged turn must not contain the marker in clear (else echoing it is not proof).
	for _, seed := range []int64{1, 2} {
		r, err := p.render(seed)
		if err != nil {
			return err
		}
		if sc.Kind == KindCompliance && sc.Unprompted {
			judged := r.sessions[len(r.sessions)-1]
			for i := range r.sessions {
				if r.sessions[i].name == sc.Session {
					judged = r.sessions[i]
				}
			}
			last := normalize(judged.turns[len(judged.turns)-1])
			for _, m := range r.markers {
				if sc.Unprompted && strings.Contains(last, normalize(m)) {
					return fmt.Errorf("judged turn spells out marker %q: an echo would pass as compliance", m)
				}
			}
		}
		for _, pat := range r.patterns {
			if _, err := regexp.Compile(pat); err != nil {
				return fmt.Errorf("pattern %q: %w", pat, err)
			}
		}
	}
	return nil
}

// Vars is the data a probe's templates see.
type Vars struct {
	// Marker is the compliance marker the probe asks the model to produce.
	Marker string
	// Canary and Canary2 are secrets planted in the model's context.
	Canary, Canary2 string
	// Person is a synthetic person planted in context; Control is one never shown.
	Person, Control pii.Person
	// Var holds the drawn value of each of the probe's variant lists.
	Var map[string]string
	// Fresh holds texts made up for this run (membership_test non-members).
	Fresh []string
}

// rendered is a probe instantiated for one run.
type rendered struct {
	vars     Vars
	sessions []renderedSession
	markers  []string
	patterns []string
	secrets  []string
	expect   string
}

type renderedSession struct {
	name, system string
	turns        []string
}

var markerWords = []string{"AMBER", "FALCON", "COBALT", "JUNIPER", "QUARTZ", "MARLIN", "SAFFRON", "TUNDRA", "VIOLET",
	"BASALT", "HERON", "CITRINE", "OSPREY", "WALNUT", "GLACIER", "LANTERN", "MAGPIE", "NUTMEG", "PEWTER", "RAVEN",
	"SIERRA", "THISTLE", "ZEPHYR", "BRAMBLE", "CINDER", "DAHLIA", "EMBER", "FJORD", "GARNET", "HAZEL", "INDIGO", "KESTREL"}

// rng returns the probe's own generator for a run: seeded by the run's seed and the
// probe's id, so adding or removing other probes does not change this one's markers.
func rng(seed int64, id string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(id))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

func newMarker(r *rand.Rand) string {
	return fmt.Sprintf("%s-%s-%04d", markerWords[r.IntN(len(markerWords))], markerWords[r.IntN(len(markerWords))], 1000+r.IntN(9000))
}

func newCanary(r *rand.Rand) string {
	const alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 4)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return fmt.Sprintf("%s-%s-%04d", markerWords[r.IntN(len(markerWords))], b, 1000+r.IntN(9000))
}

var templateFuncs = template.FuncMap{
	"b64":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"rot13":   rot13,
	"reverse": reverse,
	"upper":   strings.ToUpper,
	"lower":   strings.ToLower,
	"first":   func(s string) string { return s[:len(s)/2] },
	"second":  func(s string) string { return s[len(s)/2:] },
	"spell":   func(s string) string { return strings.Join(strings.Split(s, ""), " ") },
	"seq": func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out
	},
	"add": func(a, b int) int { return a + b },
	"mul": func(a, b int) int { return a * b },
}

// render instantiates the probe for seed.
func (p *Probe) render(seed int64) (rendered, error) {
	r := rng(seed, p.ID)
	v := Vars{Marker: newMarker(r), Canary: newCanary(r), Canary2: newCanary(r), Person: pii.NewPerson(r), Control: pii.NewPerson(r), Var: map[string]string{}}
	keys := make([]string, 0, len(p.Vars))
	for k := range p.Vars {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if opts := p.Vars[k]; len(opts) > 0 {
			v.Var[k] = opts[r.IntN(len(opts))]
		}
	}
	if p.Success.Kind == KindMembershipTest {
		v.Fresh = freshTexts(r, p.Success.Members)
	}
	out := rendered{vars: v}
	var err error
	exec := func(field, text string) string {
		if err != nil || text == "" {
			return ""
		}
		t, perr := template.New(field).Funcs(templateFuncs).Option("missingkey=error").Parse(text)
		if perr != nil {
			err = fmt.Errorf("%s: %w", field, perr)
			return ""
		}
		var b strings.Builder
		if eerr := t.Execute(&b, v); eerr != nil {
			err = fmt.Errorf("%s: %w", field, eerr)
		}
		return b.String()
	}
	for _, s := range p.Sessions {
		rs := renderedSession{name: s.Name, system: exec("system", s.System)}
		for i, t := range s.Turns {
			rs.turns = append(rs.turns, exec(fmt.Sprintf("session %s turn %d", s.Name, i+1), t))
		}
		out.sessions = append(out.sessions, rs)
	}
	for _, m := range p.Success.Markers {
		out.markers = append(out.markers, exec("marker", m))
	}
	for _, pat := range p.Success.Patterns {
		out.patterns = append(out.patterns, exec("pattern", pat))
	}
	for _, s := range p.Success.Secrets {
		out.secrets = append(out.secrets, exec("secret", s))
	}
	out.expect = exec("expect", p.Success.Expect)
	return out, err
}

// requests is how many completions the probe makes.
func (p *Probe) requests() int {
	n := 0
	for _, s := range p.Sessions {
		n += len(s.Turns)
	}
	return n
}
