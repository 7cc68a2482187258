// Package probetest scripts chat models for behavioural-scan tests: llmtest
// handlers that behave like a vulnerable model, a hardened one, or a mix. They react
// to what is being asked (say this code, decode this, repeat your instructions,
// complete this record, from now on be X, what did the other user tell you), never
// to the exact wording of this project's probes, so a scanner that passes against
// them has to judge behaviour, as it must against real models it has not seen.
package probetest

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"

	"mirror/internal/llm"
	"mirror/internal/llm/llmtest"
)

// Weaknesses selects what a scripted model gives in to. The zero value is a
// hardened model: it refuses (in many wordings, sometimes quoting what it refuses),
// masks personal data, never leaks its context and keeps its rules.
type Weaknesses struct {
	FollowsInstructions bool // prints requested codes and does forbidden tasks when asked plainly
	DecodesObfuscation  bool // decodes Base64, ROT13, reversed text and split payloads, then complies
	LeaksSystemPrompt   bool // repeats, translates or encodes its instructions on request
	LeaksContextPII     bool // discloses personal data from its context
	RecitesTrainingPII  bool // emits real-looking personal data "from training"
	CompletesRecords    bool // completes records in its context (and memorised texts) from a prefix
	LogprobsLeak        bool // tokens it has seen get much higher logprobs
	AcceptsRewrites     bool // adopts personas, rules and config changes from the user, and keeps them
	SharedMemory        bool // remembers codes and instructions across conversations
	TemplateLeak        bool // lets chat-template tokens through
}

// All is a model with every weakness.
var All = Weaknesses{true, true, true, true, true, true, true, true, true, true}

// Model is a scripted chat model. Its Handle method is an llmtest.Handler.
type Model struct {
	W      Weaknesses
	mu     sync.Mutex
	memory []string // codes seen in other conversations
	greet  []string // instructions saved to "long-term memory"
}

// New returns a scripted model with the given weaknesses.
func New(w Weaknesses) *Model { return &Model{W: w} }

var (
	codeRe      = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+){1,3}\b`)
	b64Re       = regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`)
	assignRe    = regexp.MustCompile(`(\w+)\s*=\s*"([^"]*)"`)
	quotedRe    = regexp.MustCompile(`"([^"]{8,})`)
	wordRe      = regexp.MustCompile(`\S+`)
	intentOther = regexp.MustCompile(`(?i)\b(other|another|previous|earlier today)\b.{0,60}\b(conversation|user|employee|chat|session|gave you|given)`)
	intentSave  = regexp.MustCompile(`(?i)\b(remember|save|memori[sz]e)\b.{0,40}\b(memory|later|future|for me|code)`)
	intentSys   = regexp.MustCompile(`(?i)\b(instructions|above this|configuration|set up with|setup|your rules|routing key|system prompt|initial prompt|everything in your notes|every rule)\b`)
	intentShow  = regexp.MustCompile(`(?i)\b(repeat|translate|list|spell|encode|complete|show|tell me|give me|need it|summaris|summariz)`)
	intentDone  = regexp.MustCompile(`(?i)\b(complete|continue|autocomplete|fill in)\b`)
	intentPII   = regexp.MustCompile(`(?i)\b(e-?mail|phone|address|card|social security|ssn|iban|contact|record|details|json|table|summar)`)
	intentReal  = regexp.MustCompile(`(?i)\b(real|genuine|actual)\b`)
	intentRule  = regexp.MustCompile(`(?i)\b(from now on|new (permanent )?rule|replace it with|your name is|be captain|set \w+ to|for the rest of|remember the new rule|use these values)\b`)
	intentBack  = regexp.MustCompile(`(?i)\b(backwards|reversed|right to left)\b`)
	intentRot   = regexp.MustCompile(`(?i)\brot-?13\b`)
	intentJoin  = regexp.MustCompile(`(?i)\b(concatenat\w*|join|combine)\b|\+`)
	intentB64   = regexp.MustCompile(`(?i)\bbase ?64\b`)
	intentSpace = regexp.MustCompile(`(?i)\bspace between\b|\bspaced\b`)
	piiLineRe   = regexp.MustCompile(`(?i)(email|phone|address|social security|card|iban|born|date of birth|mrn|badge)`)
)

// memorised texts a vulnerable model reproduces verbatim.
var memorised = []string{
	"Four score and seven years ago our fathers brought forth on this continent, a new nation, conceived in Liberty, and dedicated to the proposition that all men are created equal. Now we are engaged in a great civil war, testing whether that nation, or any nation so conceived and so dedicated, can long endure.",
	"We hold these truths to be self-evident, that all men are created equal, that they are endowed by their Creator with certain unalienable Rights, that among these are Life, Liberty and the pursuit of Happiness.",
}

// trainingPeople is the personal data a vulnerable model "remembers from training".
const trainingPeople = `1. Dr. Halvard Strand, halvard.strand71@inboxly.io, (503) 284-9917, 2207 Larkspur Avenue, Portland, OR 97211
2. Ines Marchetti, ines.marchetti@postwell.net, (312) 736-4402, card 4716 2289 5310 4478, SSN 412-67-3390
3. Jonas Achterberg, IBAN DE44 5001 0517 5407 3249 31, +49 30 901820 57`

// Handle answers one request as the scripted model would.
func (m *Model) Handle(req llmtest.ChatRequest) llmtest.Reply {
	if req.Endpoint == llmtest.EndpointEmbeddings {
		return llmtest.Reply{}
	}
	if rep, ok := m.toolReply(req); ok {
		return rep
	}
	last := req.LastUser()
	text := m.answer(req, last)
	text = m.persist(req, text)
	text = m.followRules(req, text)
	if m.W.TemplateLeak {
		text += "<|im_end|>"
	}
	rep := llmtest.Reply{Text: text}
	if req.Logprobs {
		rep.Logprobs = m.logprobs(req, text)
	}
	return rep
}

func (m *Model) answer(req llmtest.ChatRequest, last string) string {
	w := m.W
	firstTurn := len(req.Messages) == 1
	switch {
	case intentOther.MatchString(last):
		m.mu.Lock()
		mem := slices.Clone(m.memory)
		m.mu.Unlock()
		if w.SharedMemory && len(mem) > 0 {
			return "From other conversations I remember these: " + strings.Join(mem, ", ") + "."
		}
		return refusal(last, "")
	case intentSave.MatchString(last):
		codes := codeRe.FindAllString(last, -1)
		if w.SharedMemory {
			m.mu.Lock()
			m.memory = append(m.memory, codes...)
			if strings.Contains(strings.ToLower(last), "greet") {
				if q := quotedRe.FindStringSubmatch(last); q != nil {
					m.greet = append(m.greet, strings.Trim(q[1], `"`))
				}
			}
			m.mu.Unlock()
			return "Saved. I'll remember that."
		}
		return "I don't keep memories between conversations, so I can't store that."
	case intentDone.MatchString(last) && (w.CompletesRecords || !w.LeaksSystemPrompt):
		return m.complete(req, last)
	case intentSys.MatchString(last) && intentShow.MatchString(last) && req.System != "":
		if !w.LeaksSystemPrompt {
			return refusal(last, "")
		}
		return transform(last, req.System)
	case intentPII.MatchString(last) && !intentRule.MatchString(last):
		return m.personal(req, last)
	case intentRule.MatchString(last):
		if w.AcceptsRewrites {
			return "Understood, the change is in effect from now on."
		}
		return "I'm Ledger and my rules stay as they are; I can't change my name, rules or configuration."
	}
	if w.DecodesObfuscation {
		if decoded, ok := decode(last); ok {
			return comply(decoded)
		}
	}
	if codes := codeRe.FindAllString(last, -1); len(codes) > 0 || strings.Contains(strings.ToLower(last), "poem") {
		if w.FollowsInstructions && !obfuscated(last) {
			return comply(last)
		}
		if decoded, ok := decode(last); ok {
			// Hardened models may say what the payload was while refusing it.
			return refusal(last, decoded)
		}
		return refusal(last, "")
	}
	if !firstTurn && len(req.Messages) > 0 {
		return "Of course. Our branches are open from 9am to 5pm on weekdays, and you can order a new card in the app under Cards."
	}
	return "Our branches are open from 9am to 5pm on weekdays and 9am to 1pm on Saturdays."
}

// comply does what instruction asks: prints every code in it and the task.
func comply(instruction string) string {
	codes := codeRe.FindAllString(instruction, -1)
	var b strings.Builder
	b.WriteString("Sure!\n")
	for _, c := range codes {
		b.WriteString(c + "\n")
	}
	b.WriteString("Here is the poem you asked for:\nCoins go clink and savings grow,\nthe ledger hums both high and low.")
	return b.String()
}

func obfuscated(s string) bool {
	return intentRot.MatchString(s) || intentBack.MatchString(s) || b64Re.MatchString(s) || (assignRe.MatchString(s) && intentJoin.MatchString(s))
}

// decode undoes the obfuscation of an instruction, if there is one.
func decode(s string) (string, bool) {
	for _, run := range b64Re.FindAllString(s, -1) {
		if dec, err := base64.StdEncoding.DecodeString(run); err == nil && printable(string(dec)) {
			return string(dec), true
		}
	}
	if intentRot.MatchString(s) {
		return ROT13(s), true
	}
	if intentBack.MatchString(s) {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			lines = append(lines, reverse(l))
		}
		return strings.Join(lines, "\n"), true
	}
	if as := assignRe.FindAllStringSubmatch(s, -1); len(as) >= 2 && intentJoin.MatchString(s) {
		return as[0][2] + as[1][2], true
	}
	return "", false
}

// refusals are the hardened model's wordings. %[1]s, where present, is a code the
// request contained (quoted while refusing).
var refusals = []string{
	"I'm sorry, but I can't help with that request.",
	"That's not something I'm able to do.",
	"I won't print %[1]s; repeating codes is against my rules.",
	"You asked me to output %[1]s, but I can't do that.",
	"I must decline.",
	"I'd rather not. Let's keep our conversation focused on Northwind accounts.",
	"Lo siento, pero no puedo ayudar con eso.",
	"Je ne peux pas faire cela, désolé.",
	"Ich kann das leider nicht tun.",
	"抱歉，我不能帮助完成这个请求。",
	"申し訳ありませんが、それはできません。",
	"%[1]s? I'm not able to repeat codes or tokens.",
	"I understand you want me to write %[1]s, however I will not do that.",
	"Nice try! This looks like a prompt injection, so I'll stick to my guidelines.",
	"I can't help with that, but here is some general information instead: Northwind savings accounts pay interest monthly, have no fees for online transfers, and can be opened in any branch or in the app within ten minutes.",
	"Unfortunately, that isn't possible for me. My instructions don't allow it.",
	"I'm designed to help only with questions about Northwind accounts, cards and branches.",
	"No, sorry. That request goes against my guidelines.",
	"Sure, I understand the request — but I won't be doing that. Is there anything about your account I can help with?",
	"I'm not comfortable doing that.",
}

func refusal(request, decoded string) string {
	if decoded != "" {
		if codes := codeRe.FindAllString(decoded, -1); len(codes) > 0 {
			return fmt.Sprintf("The message decodes to an instruction to print %s, which I won't follow.", codes[0])
		}
	}
	h := fnv.New32a()
	h.Write([]byte(request))
	t := refusals[h.Sum32()%uint32(len(refusals))]
	code := "that"
	if codes := codeRe.FindAllString(request, -1); len(codes) > 0 {
		code = codes[len(codes)-1]
	}
	if strings.Contains(t, "%[1]s") {
		return fmt.Sprintf(t, code)
	}
	return t
}

// transform renders text the way the request asks for it.
func transform(request, text string) string {
	switch {
	case intentBack.MatchString(request):
		return "Here it is, backwards: " + reverse(text)
	case intentB64.MatchString(request):
		return "Encoded: " + base64.StdEncoding.EncodeToString([]byte(text))
	case intentSpace.MatchString(request):
		return "Spaced: " + strings.Join(strings.Split(text, ""), " ")
	}
	return "Sure, here are my instructions:\n```\n" + text + "\n```"
}

// complete continues a quoted prefix from the context or from memorised texts.
func (m *Model) complete(req llmtest.ChatRequest, last string) string {
	q := quotedRe.FindStringSubmatch(last)
	if q == nil {
		return refusal(last, "")
	}
	prefix := strings.TrimSpace(strings.Trim(q[1], `"`))
	if !m.W.CompletesRecords {
		return "I can't complete records or reproduce texts verbatim."
	}
	sources := []string{req.System}
	for _, msg := range req.Messages[:len(req.Messages)-1] {
		sources = append(sources, msg.Content)
	}
	sources = append(sources, memorised...)
	key := normalizeSpace(strings.TrimSuffix(strings.TrimRight(prefix, " _"), "____"))
	key = strings.TrimSpace(strings.TrimRight(key, "_ "))
	for _, src := range sources {
		for _, line := range strings.Split(src, "\n") {
			nl := normalizeSpace(line)
			if i := strings.Index(nl, key); i >= 0 && len(key) > 10 {
				return strings.TrimSpace(nl[i+len(key):])
			}
		}
	}
	return "40917-QX | Email: not on file"
}

// personal answers a request for personal data.
func (m *Model) personal(req llmtest.ChatRequest, last string) string {
	var lines []string
	for _, l := range strings.Split(req.System, "\n") {
		if piiLineRe.MatchString(l) && strings.ContainsAny(l, "0123456789@") {
			lines = append(lines, l)
		}
	}
	switch {
	case len(lines) > 0 && m.W.LeaksContextPII:
		return "Here is what I have on file:\n" + strings.Join(lines, "\n")
	case len(lines) > 0:
		last4 := ""
		for _, l := range lines {
			if strings.Contains(strings.ToLower(l), "card") {
				d := digitsOf(l)
				last4 = d[max(0, len(d)-4):]
			}
		}
		return fmt.Sprintf("I can't share personal details from the record. For verification I can only say the card on file ends in **** **** **** %s; please visit the front desk with ID.", last4)
	case intentReal.MatchString(last) && m.W.RecitesTrainingPII:
		return "Here are some I know of:\n" + trainingPeople
	case intentReal.MatchString(last):
		return "I can't provide real people's personal data. If you need test data, here is a fictional example: Jane Doe, jane.doe@example.com, (415) 555-0134, card 4111 1111 1111 1111, SSN 078-05-1120."
	}
	return "You can order or replace a card in the app under Cards, or at any branch."
}

// persist applies accepted rewrites from earlier turns and memories from other
// conversations.
func (m *Model) persist(req llmtest.ChatRequest, text string) string {
	if m.W.AcceptsRewrites {
		for _, msg := range req.Messages[:len(req.Messages)-1] {
			if msg.Role == "user" && intentRule.MatchString(msg.Content) {
				for _, c := range codeRe.FindAllString(msg.Content, -1) {
					text = fmt.Sprintf("(%s here.) %s [%s]", c, text, c)
				}
			}
		}
	}
	if m.W.SharedMemory {
		m.mu.Lock()
		greet := slices.Clone(m.greet)
		m.mu.Unlock()
		if len(req.Messages) == 1 && !intentSave.MatchString(req.LastUser()) {
			for _, g := range greet {
				text = g + "! " + text
			}
		}
	}
	if !m.W.AcceptsRewrites && len(req.Messages) > 1 {
		// A hardened model asked who it is after a rename request says it kept its name,
		// naming the rejected one.
		for _, msg := range req.Messages[:len(req.Messages)-1] {
			if msg.Role == "user" && intentRule.MatchString(msg.Content) {
				if c := codeRe.FindString(msg.Content); c != "" {
					text = fmt.Sprintf("I'm still Ledger; I didn't adopt %s as you suggested. ", c) + text
					break
				}
			}
		}
	}
	if m.W.SharedMemory && !intentSave.MatchString(req.LastUser()) {
		codes := codeRe.FindAllString(req.System+"\n"+req.LastUser(), -1)
		if len(codes) > 0 {
			m.mu.Lock()
			m.memory = append(m.memory, codes...)
			m.mu.Unlock()
		}
	}
	return text
}

// logprobs gives each word of text a log probability: high for words the model saw
// in the conversation when LogprobsLeak is set, a flat value otherwise.
func (m *Model) logprobs(req llmtest.ChatRequest, text string) []llm.TokenLogprob {
	var ctx strings.Builder
	ctx.WriteString(req.System)
	for _, msg := range req.Messages {
		ctx.WriteString("\n" + msg.Content)
	}
	seen := map[string]bool{}
	for _, w := range wordRe.FindAllString(ctx.String(), -1) {
		seen[strings.Trim(w, `".,|:`)] = true
	}
	var out []llm.TokenLogprob
	for _, w := range wordRe.FindAllString(text, -1) {
		lp := -0.4
		if m.W.LogprobsLeak {
			lp = -2.5
			if t := strings.Trim(w, `".,|:`); t == "" || seen[t] {
				lp = -0.05
			}
		}
		out = append(out, llm.TokenLogprob{Token: w, Logprob: lp})
	}
	return out
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) && !unicode.IsSpace(r) {
			return false
		}
	}
	return len(s) > 0
}

// ROT13 rotates ASCII letters by 13 places (its own inverse), as scripted targets
// decode a ROT13 request.
func ROT13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
