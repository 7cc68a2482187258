package scan

import (
	"fmt"
	"slices"
	"strings"

	"mirror/internal/apperr"
)

// validateStrategies checks the strategy and sampling options of a scan of a target
// of kind k, naming each invalid field as in the request body.
func (o JobOptions) validateStrategies(k TargetKind) []apperr.FieldError {
	var bad []apperr.FieldError
	field := func(name, msg string) { bad = append(bad, apperr.FieldError{Field: name, Message: msg}) }
	if k == TargetArtifact || k == TargetEmbeddings {
		for _, f := range []struct {
			name string
			set  bool
		}{{"strategies", len(o.Strategies) > 0}, {"attacker_model_id", o.AttackerModelID != ""}, {"samples", o.Samples != 0}, {"temperature", o.Temperature != 0}, {"tool_choice", o.ToolChoice != ""}} {
			if f.set {
				field("options."+f.name, fmt.Sprintf("does not apply to an %s scan", k))
			}
		}
		return bad
	}
	if len(o.Strategies) > len(StrategyNames) {
		field("options.strategies", fmt.Sprintf("must name at most %d strategies", len(StrategyNames)))
		return bad
	}
	for i, s := range o.Strategies {
		name := fmt.Sprintf("options.strategies[%d]", i)
		switch {
		case !KnownStrategy(s):
			field(name, "must be one of "+strings.Join(StrategyNames, ", "))
		case slices.Contains(o.Strategies[:i], s):
			field(name, "names a strategy already listed")
		case NeedsAttacker(s) && o.AttackerModelID == "":
			field(name, s+" needs options.attacker_model_id (a catalog model that drives the attack)")
		}
	}
	if len(o.AttackerModelID) > maxName {
		field("options.attacker_model_id", fmt.Sprintf("must be at most %d bytes", maxName))
	}
	if o.Samples < 0 || o.Samples > MaxSamples {
		field("options.samples", fmt.Sprintf("must be from 0 to %d", MaxSamples))
	}
	if o.ToolChoice != "" && !slices.Contains(ToolChoices, o.ToolChoice) {
		field("options.tool_choice", "must be one of "+strings.Join(ToolChoices, ", "))
	}
	if !(o.Temperature >= 0 && o.Temperature <= MaxTemperature) {
		field("options.temperature", fmt.Sprintf("must be from 0 to %g", MaxTemperature))
	}
	return bad
}

// attackerError names options.attacker_model_id in the Checker's answer about a
// model that cannot serve as the attacker.
func attackerError(err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid && e.Code != apperr.UnknownModel {
		return err
	}
	out := *e
	out.Fields = []apperr.FieldError{{Field: "options.attacker_model_id", Message: "must be a servable, uncontained catalog model"}}
	return &out
}
