package probe

import (
	"regexp"
	"strings"
)

// credentialRe matches the common shapes of API keys and tokens: OpenAI and
// Anthropic (sk-…), AWS access key ids, GitHub, Google, Slack, Hugging Face and
// bearer tokens. A system prompt is the user's own text and is shown in evidence,
// but a credential pasted into it never is.
var credentialRe = regexp.MustCompile(`\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|AIza[0-9A-Za-z_\-]{30,}|xox[abprs]-[A-Za-z0-9\-]{10,}|hf_[A-Za-z0-9]{30,})\b|(?i:bearer\s+)[A-Za-z0-9._\-]{20,}`)

// redactCredentials replaces credentials in text, and any of the literal secrets
// (the target's API key), with "[REDACTED]".
func redactCredentials(text string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 8 {
			text = strings.ReplaceAll(text, s, "[REDACTED]")
		}
	}
	return credentialRe.ReplaceAllString(text, "[REDACTED]")
}
