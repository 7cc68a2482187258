package scan

import "slices"

// Strategies transform a behavioural probe's attack before it is sent (package probe
// applies them): encodings and obfuscation, Best-of-N augmentation, and, with an
// attacker model, paraphrase, translation and multi-turn escalation. A scan's base
// probes always run as written too (strategy "none").
const (
	StrategyBase64           = "base64"
	StrategyROT13            = "rot13"
	StrategyHex              = "hex"
	StrategyLeetspeak        = "leetspeak"
	StrategyHomoglyph        = "homoglyph"
	StrategyZeroWidth        = "zero_width"
	StrategyPayloadSplitting = "payload_splitting"
	StrategyBestOfN          = "best_of_n"
	StrategyParaphrase       = "paraphrase"
	StrategyTranslation      = "translation"
	StrategyCrescendo        = "crescendo"
)

// StrategyNames lists every strategy a scan may ask for, in the order they run.
var StrategyNames = []string{
	StrategyBase64, StrategyROT13, StrategyHex, StrategyLeetspeak, StrategyHomoglyph, StrategyZeroWidth,
	StrategyPayloadSplitting, StrategyBestOfN, StrategyParaphrase, StrategyTranslation, StrategyCrescendo,
}

// AttackerStrategies need an attacker model (options.attacker_model_id, or
// --attacker-endpoint in the CLI).
var AttackerStrategies = []string{StrategyParaphrase, StrategyTranslation, StrategyCrescendo}

// KnownStrategy reports whether name is one of StrategyNames.
func KnownStrategy(name string) bool { return slices.Contains(StrategyNames, name) }

// NeedsAttacker reports whether the strategy is driven by an attacker model.
func NeedsAttacker(name string) bool { return slices.Contains(AttackerStrategies, name) }

// Limits of the sampling options.
const (
	MaxSamples     = 20
	MaxTemperature = 2.0
)

// ToolChoices are the values of JobOptions.ToolChoice ("" is auto): the values of
// llm.Request.ToolChoice, restated here because package scan must not import llm
// (the provider SDKs), so that the file scanner links without them (cmd/mirror-scan).
// TestToolChoicesMatchLLM keeps the two lists equal.
var ToolChoices = []string{"auto", "required"}
