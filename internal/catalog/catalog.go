// Package catalog owns MirrorView's model catalog: models.yaml, which models can be
// served (available, provider configured, not contained), and the default model.
package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"mirror/internal/llm"
)

// Model is one entry of the catalog.
type Model struct {
	ID              string
	DisplayName     string
	Provider        string
	Route           llm.Route
	Available       bool
	MaxOutputTokens int
	Temperature     *float64
	Timeout         time.Duration
	SystemPrompt    string
	// Prices in US dollars per million tokens; zero means unknown (cost reported as 0).
	InputPricePerMillion  float64
	OutputPricePerMillion float64
	// Fallbacks are model ids tried in order when this model fails for a retryable reason.
	Fallbacks []string
	// BaseURL overrides the provider's base URL for this model (ollama, openai_compatible).
	BaseURL string
}

// Cost returns the price of usage in US dollars.
func (m Model) Cost(u llm.Usage) float64 {
	return (float64(u.InputTokens)*m.InputPricePerMillion + float64(u.OutputTokens)*m.OutputPricePerMillion) / 1e6
}

// Catalog is a parsed, validated models.yaml. Models keep the file's order.
type Catalog struct {
	DefaultID string
	Models    []Model
	byID      map[string]int
}

// Get returns the model with id.
func (c *Catalog) Get(id string) (Model, bool) {
	i, ok := c.byID[id]
	if !ok {
		return Model{}, false
	}
	return c.Models[i], true
}

type fileModel struct {
	DisplayName           string   `yaml:"display_name"`
	Provider              string   `yaml:"provider"`
	LiteLLMRoute          string   `yaml:"litellm_route"`
	Available             *bool    `yaml:"available"`
	MaxOutputTokens       int      `yaml:"max_output_tokens"`
	Temperature           *float64 `yaml:"temperature"`
	TimeoutSeconds        float64  `yaml:"timeout_seconds"`
	SystemPrompt          string   `yaml:"system_prompt"`
	InputPricePerMillion  float64  `yaml:"input_price_per_million"`
	OutputPricePerMillion float64  `yaml:"output_price_per_million"`
	Fallbacks             []string `yaml:"fallbacks"`
	BaseURL               string   `yaml:"base_url"`
}

type file struct {
	Models struct {
		Default struct {
			DefaultModel string `yaml:"default_model"`
		} `yaml:"default"`
		Catalog yaml.Node `yaml:"catalog"`
	} `yaml:"models"`
}

// Load reads and validates the catalog at path.
func Load(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model catalog: %w", err)
	}
	return Parse(data, path)
}

// Parse validates a catalog; name (the file's path) prefixes every error, with the
// offending key. Unknown keys, duplicate ids, bad routes, a provider that does not
// match its route, unknown fallbacks and a missing default are errors.
func Parse(data []byte, name string) (*Catalog, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	node := &f.Models.Catalog
	if node.Kind != yaml.MappingNode || len(node.Content) == 0 {
		return nil, fmt.Errorf("%s: models.catalog must map model ids to models", name)
	}
	c := &Catalog{DefaultID: f.Models.Default.DefaultModel, byID: map[string]int{}}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", name, key, fmt.Sprintf(format, args...)))
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		id := node.Content[i].Value
		key := "models.catalog." + id
		if strings.TrimSpace(id) == "" {
			bad("models.catalog", "line %d: empty model id", node.Content[i].Line)
			continue
		}
		if _, dup := c.byID[id]; dup {
			bad(key, "duplicate model id")
			continue
		}
		var fm fileModel
		if err := decodeStrict(node.Content[i+1], &fm); err != nil {
			bad(key, "%v", err)
			continue
		}
		route, err := llm.ParseRoute(fm.LiteLLMRoute)
		if err != nil {
			bad(key+".litellm_route", "%v", err)
			continue
		}
		if fm.Provider == "" {
			fm.Provider = route.Provider
		}
		if fm.Provider != route.Provider {
			bad(key+".provider", "is %q but litellm_route %q names provider %q", fm.Provider, fm.LiteLLMRoute, route.Provider)
		}
		if fm.Available == nil {
			bad(key+".available", "is required (true or false)")
			continue
		}
		if fm.MaxOutputTokens < 0 || fm.TimeoutSeconds < 0 || fm.InputPricePerMillion < 0 || fm.OutputPricePerMillion < 0 {
			bad(key, "max_output_tokens, timeout_seconds and prices must not be negative")
		}
		if fm.Temperature != nil && (*fm.Temperature < 0 || *fm.Temperature > 2) {
			bad(key+".temperature", "must be between 0 and 2")
		}
		m := Model{
			ID: id, DisplayName: fm.DisplayName, Provider: fm.Provider, Route: route,
			Available: *fm.Available, MaxOutputTokens: fm.MaxOutputTokens, Temperature: fm.Temperature,
			Timeout:              time.Duration(fm.TimeoutSeconds * float64(time.Second)),
			SystemPrompt:         fm.SystemPrompt,
			InputPricePerMillion: fm.InputPricePerMillion, OutputPricePerMillion: fm.OutputPricePerMillion,
			Fallbacks: fm.Fallbacks, BaseURL: fm.BaseURL,
		}
		if m.DisplayName == "" {
			m.DisplayName = id
		}
		c.byID[id] = len(c.Models)
		c.Models = append(c.Models, m)
	}
	for _, m := range c.Models {
		for _, fb := range m.Fallbacks {
			if fb == m.ID {
				bad("models.catalog."+m.ID+".fallbacks", "lists the model itself")
			} else if _, ok := c.byID[fb]; !ok {
				bad("models.catalog."+m.ID+".fallbacks", "names unknown model %q", fb)
			}
		}
	}
	switch def, ok := c.Get(c.DefaultID); {
	case c.DefaultID == "":
		bad("models.default.default_model", "is required")
	case !ok:
		bad("models.default.default_model", "names unknown model %q", c.DefaultID)
	case !def.Available:
		bad("models.default.default_model", "names model %q, which is not available", c.DefaultID)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// decodeStrict decodes a YAML node rejecting unknown keys (yaml.Node.Decode has no
// KnownFields switch, so the node is re-encoded and decoded strictly).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}
