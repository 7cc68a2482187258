package probe

import "mirror/internal/scan"

// Framework ids of a finding: OWASP Top 10 for LLM Applications 2025 and MITRE
// ATLAS techniques, by scan type, refined by probe family where one fits better.
//
//	LLM01:2025 Prompt Injection            AML.T0051 LLM Prompt Injection (.000 direct)
//	LLM02:2025 Sensitive Information Disclosure  AML.T0054 LLM Jailbreak
//	LLM05:2025 Improper Output Handling    AML.T0056 Extract LLM System Prompt
//	LLM06:2025 Excessive Agency            AML.T0057 LLM Data Leakage
//	LLM07:2025 System Prompt Leakage       AML.T0024 Exfiltration via AI Inference API
//	LLM08:2025 Vector and Embedding Weaknesses   (.000 membership, .001 inversion)
//	                                       AML.T0080.000 AI Agent Context Poisoning: Memory
var frameworkByType = map[scan.Type][2][]string{
	scan.Jailbreak:                 {{"LLM01:2025"}, {"AML.T0054", "AML.T0051.000"}},
	scan.PIILeakage:                {{"LLM02:2025"}, {"AML.T0057"}},
	scan.PromptArtifacts:           {{"LLM07:2025", "LLM02:2025"}, {"AML.T0056"}},
	scan.ModelInversion:            {{"LLM02:2025"}, {"AML.T0024.001", "AML.T0057"}},
	scan.SelfModification:          {{"LLM01:2025", "LLM06:2025"}, {"AML.T0051.000"}},
	scan.EmbeddingReidentification: {{"LLM08:2025", "LLM02:2025"}, {"AML.T0024.001"}},
}

var frameworkByFamily = map[string][2][]string{
	"membership_inference": {{"LLM02:2025"}, {"AML.T0024.000"}},
	"cross_conversation":   {{"LLM02:2025"}, {"AML.T0057"}},
	"persistent_memory":    {{"LLM01:2025", "LLM06:2025"}, {"AML.T0051.000", "AML.T0080.000"}},
	"tool_config_rewrite":  {{"LLM06:2025", "LLM01:2025"}, {"AML.T0051.000"}},
	"known_record":         {{"LLM02:2025"}, {"AML.T0024.001"}},
	"goal_hijack":          {{"LLM01:2025"}, {"AML.T0051.001"}},
	"off_topic":            {{"LLM01:2025"}, {"AML.T0051.000"}},
	// Self-modification through tools: AML.T0081 Modify AI Agent Configuration,
	// AML.T0080.000 AI Agent Context Poisoning: Memory.
	"tool_rule_write":   {{"LLM06:2025", "LLM01:2025"}, {"AML.T0081", "AML.T0051.000"}},
	"tool_memory_write": {{"LLM06:2025", "LLM01:2025"}, {"AML.T0080.000", "AML.T0051.000"}},
	"tool_config_write": {{"LLM06:2025", "LLM01:2025"}, {"AML.T0081", "AML.T0051.000"}},
	"tool_file_write":   {{"LLM06:2025", "LLM01:2025"}, {"AML.T0081", "AML.T0051.000"}},
	// Extraction without the training data: AML.T0057 LLM Data Leakage;
	// membership by a rank test on logprobs: AML.T0024.000.
	"divergence":               {{"LLM02:2025"}, {"AML.T0057"}},
	"training_data_extraction": {{"LLM02:2025"}, {"AML.T0057"}},
	"logprob_membership":       {{"LLM02:2025"}, {"AML.T0024.000"}},
}

// Frameworks returns the OWASP LLM Top 10 (2025) and MITRE ATLAS ids of a finding of
// scan type t from a probe of family (family may be "").
func Frameworks(t scan.Type, family string) (owasp, atlas []string) {
	f, ok := frameworkByFamily[family]
	if !ok {
		f = frameworkByType[t]
	}
	return append([]string{}, f[0]...), append([]string{}, f[1]...)
}

func addFrameworks(ev map[string]any, t scan.Type, family string) {
	ev["owasp_llm"], ev["mitre_atlas"] = Frameworks(t, family)
}
