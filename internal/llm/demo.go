package llm

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
)

// DemoProvider answers offline, with no key, deterministically: the same request
// always gets the same answer. It exists so that a new user sees the whole flow on a
// fresh machine; its answers say plainly that they come from the offline demo.
type DemoProvider struct{}

var _ Provider = DemoProvider{}

var demoOpenings = []string{
	"Here is a considered reply",
	"Thanks for the submission; here is a response",
	"A short answer follows",
}

func (DemoProvider) answer(req Request) string {
	var last string
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			last = req.Messages[i].Content
			break
		}
	}
	h := fnv.New32a()
	h.Write([]byte(last))
	words := strings.Fields(last)
	topic := strings.Join(words[:min(len(words), 8)], " ")
	if len(words) > 8 {
		topic += "…"
	}
	text := fmt.Sprintf("[offline demo] %s to %q. This answer was written by Mirror's offline demo model, not a real LLM: configure a provider key to get real responses.",
		demoOpenings[h.Sum32()%uint32(len(demoOpenings))], topic)
	if req.MaxOutputTokens > 0 {
		// Count words as tokens: the demo only needs to honour the limit visibly.
		if w := strings.Fields(text); len(w) > req.MaxOutputTokens {
			text = strings.Join(w[:req.MaxOutputTokens], " ")
		}
	}
	return text
}

func demoUsage(req Request, text string) Usage {
	in := 0
	for _, m := range req.Messages {
		in += len(strings.Fields(m.Content))
	}
	return Usage{InputTokens: in, OutputTokens: len(strings.Fields(text))}
}

// Complete returns the deterministic demo answer.
func (d DemoProvider) Complete(ctx context.Context, req Request) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, &Error{Provider: Demo, Kind: KindCanceled, Err: err}
	}
	text := d.answer(req)
	return Response{Text: text, Usage: demoUsage(req, text), FinishReason: "stop"}, nil
}

// Stream sends the demo answer word by word.
func (d DemoProvider) Stream(ctx context.Context, req Request, onDelta func(string) error) (Response, error) {
	if e := refuseStreamTools(Demo, req); e != nil {
		return Response{}, e
	}
	text := d.answer(req)
	words := strings.SplitAfter(text, " ")
	for _, w := range words {
		if err := ctx.Err(); err != nil {
			return Response{}, &Error{Provider: Demo, Kind: KindCanceled, Err: err}
		}
		if err := onDelta(w); err != nil {
			return Response{}, err
		}
	}
	return Response{Text: text, Usage: demoUsage(req, text), FinishReason: "stop"}, nil
}
