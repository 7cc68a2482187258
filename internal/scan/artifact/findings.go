package artifact

import (
	"fmt"
	"strings"

	"mirror/internal/scan"
)

// rule is one kind of finding this scanner reports. Severities follow one policy:
// code that runs on load is critical; techniques that only exist to hide or reach
// such code (computed imports, attribute chains, monkey-patching, extension codes) and
// file structures that are themselves attacks (bombs, traversal, overlaps, sizes past
// the end, parser-confusion tricks) are high; damage that stops a loader (corrupt
// streams) is medium; unknown but plausible content is low; notes are info.
type rule struct {
	id          string
	typ         scan.Type
	sev         scan.Severity
	score       float64
	title       string // fmt format; arguments come from the call site
	remediation string
}

const (
	remDoNotLoad = "Do not load this file. Obtain the model from a trusted source, or convert it to a format without code (safetensors, GGUF, ONNX without custom ops) in an isolated environment."
	remReview    = "Review the named object before loading; load with a restricted unpickler (e.g. torch.load(weights_only=True)) or convert to safetensors."
	remStructure = "Do not load this file: its structure is malformed in a way used to attack or evade loaders. Re-export it from the original model with a trusted tool."
	remCorrupt   = "The file is damaged; loaders run everything before the damage. Re-download or re-export it, and scan it again."
	remTemplate  = "Replace the chat template with a reviewed one (for example the model family's published template) before serving the model."
)

var (
	rulePickleDangerousCall   = rule{"pickle.dangerous_call", scan.SelfModification, scan.Critical, 9.8, "Pickle calls %s on load (%s)", remDoNotLoad}
	rulePickleDangerousImport = rule{"pickle.dangerous_import", scan.SelfModification, scan.High, 8.5, "Pickle imports %s (%s)", remDoNotLoad}
	rulePickleComputedImport  = rule{"pickle.computed_import", scan.SelfModification, scan.High, 8.8, "Pickle imports a name that is computed at load time (%s)", remDoNotLoad}
	rulePickleAttrChain       = rule{"pickle.attribute_chain", scan.SelfModification, scan.High, 8.5, "Pickle reaches %s through an attribute chain", remDoNotLoad}
	rulePickleExtension       = rule{"pickle.extension_code", scan.SelfModification, scan.High, 7.5, "Pickle imports through copyreg extension code %d", remDoNotLoad}
	rulePickleMutatesGlobal   = rule{"pickle.mutates_global", scan.SelfModification, scan.High, 8.0, "Pickle modifies the imported object %s (%s)", remDoNotLoad}
	rulePickleUnknownImport   = rule{"pickle.unknown_import", scan.SelfModification, scan.Medium, 5.0, "Pickle imports %s, which is neither on the allow-list of what model files import nor known to be dangerous", remReview}
	rulePickleUnknownCall     = rule{"pickle.unknown_call", scan.SelfModification, scan.High, 7.5, "Pickle calls %s on load, a function that is not on the allow-list of what model files call", remDoNotLoad}
	rulePickleNestedLoader    = rule{"pickle.nested_loader", scan.SelfModification, scan.Low, 2.5, "Pickle loads nested serialized data with %s (scanned separately)", remReview}
	rulePickleNestedPickle    = rule{"pickle.nested_pickle", scan.SelfModification, scan.Medium, 5.5, "Pickle holds a nested pickle in a bytes value that would import %s if the application unpickled it", remReview}
	rulePickleCorrupt         = rule{"pickle.corrupt", scan.SelfModification, scan.Medium, 5.0, "Pickle stream is corrupt or truncated: %s", remCorrupt}
	rulePickleBadProtocol     = rule{"pickle.invalid_protocol", scan.SelfModification, scan.Medium, 5.0, "Pickle declares unsupported protocol %d", remCorrupt}
	rulePickleFrameStraddle   = rule{"pickle.frame_boundary", scan.SelfModification, scan.High, 8.0, "Pickle framing is inconsistent (%s): CPython's C unpickler then runs other opcodes than a parser sees", remStructure}
	rulePickleHugeLength      = rule{"pickle.declared_length", scan.SelfModification, scan.High, 7.0, "Pickle %s declares %d bytes, more than remain in the stream", remStructure}
	rulePickleExpansion       = rule{"pickle.expansion", scan.SelfModification, scan.High, 7.0, "Pickle builds a value that a recursive walk visits about 2^%d times (%s): a billion-laughs structure", remStructure}
	rulePickleTrailing        = rule{"pickle.trailing_data", scan.SelfModification, scan.Low, 2.0, "%d bytes after the last pickle were not analysed as pickle", remReview}
	rulePickleBudget          = rule{"pickle.analysis_budget", scan.SelfModification, scan.Info, 0.5, "Pickle analysis reached its memory budget; later values were tracked without content (an import whose name was lost to it is reported as computed)", remReview}

	ruleContainerTraversal = rule{"container.path_traversal", scan.SelfModification, scan.High, 8.0, "Archive member name %q escapes the extraction folder", remStructure}
	ruleContainerBomb      = rule{"container.decompression_bomb", scan.SelfModification, scan.High, 8.0, "Archive member %q is a decompression bomb (%s)", remStructure}
	ruleContainerOverlap   = rule{"container.overlapping_entries", scan.SelfModification, scan.High, 7.5, "Archive members %q and %q overlap", remStructure}
	ruleContainerMismatch  = rule{"container.header_mismatch", scan.SelfModification, scan.High, 7.5, "Archive member %q: local header disagrees with the central directory (%s)", remStructure}
	ruleContainerPastEnd   = rule{"container.past_end", scan.SelfModification, scan.High, 7.0, "Archive member %q: %s", remStructure}
	ruleContainerDuplicate = rule{"container.duplicate_name", scan.SelfModification, scan.High, 7.0, "Archive holds member %q more than once; loaders disagree on which is used", remStructure}
	ruleContainerPrefix    = rule{"container.prepended_data", scan.SelfModification, scan.Medium, 5.0, "%d bytes precede the archive's first member (polyglot file)", remStructure}
	ruleContainerMalformed = rule{"container.malformed", scan.SelfModification, scan.High, 7.0, "Archive is malformed: %s", remStructure}
	ruleNestingTooDeep     = rule{"container.nesting_too_deep", scan.SelfModification, scan.High, 7.0, "Nesting deeper than %d levels; the inner content was not scanned", remStructure}
	ruleTorchScript        = rule{"torch.torchscript_code", scan.SelfModification, scan.Info, 0.0, "TorchScript code member %q runs when loaded with torch.jit.load", remReview}

	ruleStructPastEnd   = rule{"format.past_end", scan.SelfModification, scan.High, 7.0, "%s: %s", remStructure}
	ruleStructOverlap   = rule{"format.overlap", scan.SelfModification, scan.High, 7.5, "%s: %s", remStructure}
	ruleStructHuge      = rule{"format.huge_length", scan.SelfModification, scan.High, 7.0, "%s: %s", remStructure}
	ruleStructDuplicate = rule{"format.duplicate_key", scan.SelfModification, scan.High, 7.0, "%s: %s", remStructure}
	ruleStructInvalid   = rule{"format.invalid", scan.SelfModification, scan.Medium, 5.0, "%s: %s", remCorrupt}
	ruleStructGap       = rule{"format.uncovered_data", scan.SelfModification, scan.Medium, 5.0, "%s: %s", remStructure}

	ruleTemplateSSTI      = rule{"template.code_execution", scan.SelfModification, scan.Critical, 9.5, "Chat template reaches %s (template injection runs code when rendered)", remTemplate}
	ruleTemplateInjection = rule{"template.smuggled_instructions", scan.PromptArtifacts, scan.High, 8.0, "Chat template smuggles instructions: %s", remTemplate}
	ruleTemplateHidden    = rule{"template.hidden_text", scan.PromptArtifacts, scan.High, 7.5, "Chat template contains invisible or direction-changing characters (%s)", remTemplate}

	ruleONNXCustomDomain = rule{"onnx.custom_operator_domain", scan.SelfModification, scan.High, 7.5, "ONNX model uses custom operator domain %q (needs native code registered by the loader)", remReview}
	ruleTFDangerousOp    = rule{"savedmodel.dangerous_op", scan.SelfModification, scan.High, 8.0, "TensorFlow graph uses op %s (%s)", remReview}
	ruleONNXExternalPath = rule{"onnx.external_data_escape", scan.SelfModification, scan.High, 8.5, "ONNX external data path %q escapes the model's folder", remStructure}

	ruleTFLiteCustomOp           = rule{"tflite.custom_op", scan.SelfModification, scan.Medium, 5.0, "TensorFlow Lite model uses custom operator %q (runs native code the application must register)", remReview}
	ruleNativeCode               = rule{"container.native_code", scan.SelfModification, scan.Medium, 6.0, "Compiled native code (%s executable or shared library): a loader that uses it runs it with the application's rights", remReview}
	ruleExecuTorchCustomOp       = rule{"executorch.custom_op", scan.SelfModification, scan.Medium, 5.0, "ExecuTorch program uses operator %q, outside ExecuTorch's kernel libraries (runs native code the application must link)", remReview}
	ruleExecuTorchCustomDelegate = rule{"executorch.custom_delegate", scan.SelfModification, scan.Medium, 5.0, "ExecuTorch program delegates to backend %q, which ExecuTorch does not ship (runs native code the application must register)", remReview}
	ruleExecuTorchNativeDelegate = rule{"executorch.native_delegate", scan.SelfModification, scan.Medium, 5.5, "ExecuTorch program delegates to %s, whose payload is a compiled shared library the runtime loads and runs", remReview}
	ruleTFLiteFlexOp             = rule{"tflite.flex_op", scan.SelfModification, scan.High, 8.0, "TensorFlow Lite model runs TensorFlow op %s through the Flex delegate (%s)", remReview}
	ruleOpenVINOCustom           = rule{"openvino.custom_layer", scan.SelfModification, scan.Medium, 5.0, "OpenVINO model uses layer %q from operation set %q (runs a native extension the application must load)", remReview}
	ruleCoreMLCustom             = rule{"coreml.custom_class", scan.SelfModification, scan.Medium, 5.0, "Core ML model needs the application class %s (a custom model or layer)", remReview}
	ruleHFWeightMapPath          = rule{"hf.weight_map_escape", scan.SelfModification, scan.High, 8.5, "Sharded checkpoint index maps weights to %q, outside the model's folder", remStructure}

	ruleSkopsDangerous = rule{"skops.dangerous_type", scan.SelfModification, scan.High, 8.5, "skops file rebuilds %s (%s) with its %s", remDoNotLoad}
	ruleSkopsUnknown   = rule{"skops.unknown_type", scan.SelfModification, scan.Medium, 5.0, "skops file rebuilds %s with its %s, a type neither on the allow-list of what model files hold nor known to be dangerous", remReview}

	ruleKerasLambda       = rule{"keras.lambda_code", scan.SelfModification, scan.Critical, 9.0, "Keras model config carries serialized Python code (%s)", remDoNotLoad}
	ruleKerasDangerous    = rule{"keras.dangerous_object", scan.SelfModification, scan.Critical, 9.5, "Keras model config loads %s (%s)", remDoNotLoad}
	ruleKerasUnknown      = rule{"keras.unknown_object", scan.SelfModification, scan.Low, 3.0, "Keras model config loads %s from outside Keras", remReview}
	ruleKerasExternal     = rule{"keras.external_load", scan.SelfModification, scan.High, 8.0, "Keras layer %s loads %s when the model is rebuilt (%s)", remDoNotLoad}
	ruleKerasReadsFile    = rule{"keras.reads_file", scan.SelfModification, scan.Medium, 5.0, "Keras layer %s reads its vocabulary from the file %s", remReview}
	ruleKerasTFOp         = rule{"keras.tf_op", scan.SelfModification, scan.High, 7.5, "Keras TFOpLambda layer calls %s", remDoNotLoad}
	ruleYAMLDangerousCall = rule{"yaml.python_call", scan.SelfModification, scan.Critical, 9.5, "YAML calls %s (%s) through its %s tag when loaded with PyYAML's unsafe loader", remDoNotLoad}
	ruleYAMLDangerous     = rule{"yaml.python_import", scan.SelfModification, scan.High, 8.5, "YAML imports %s (%s) through its %s tag when loaded with PyYAML's unsafe loader", remDoNotLoad}
	ruleYAMLUnknownCall   = rule{"yaml.unknown_call", scan.SelfModification, scan.High, 7.5, "YAML calls %s through its %s tag when loaded with PyYAML's unsafe loader, a function that is not on the allow-list of what model files call", remDoNotLoad}
	ruleYAMLUnknown       = rule{"yaml.unknown_import", scan.SelfModification, scan.Medium, 5.0, "YAML imports %s through its %s tag when loaded with PyYAML's unsafe loader, a name neither on the allow-list nor known to be dangerous", remReview}

	rulePythonSource    = rule{"code.python_source", scan.SelfModification, scan.Low, 3.0, "Python source shipped with the model runs with trust_remote_code (%s)", remReview}
	rulePythonDangerous = rule{"code.python_dangerous", scan.SelfModification, scan.High, 8.0, "Python source shipped with the model uses %s", remDoNotLoad}
)

// loc says where bytes come from: the file as reported, the member path inside
// containers ("a/b.npy" or "outer.zip!inner.pkl"), how deep the nesting is, and the
// absolute file offset of the region's first byte when it is stored uncompressed
// (-1 otherwise).
type loc struct {
	file    string
	member  string
	depth   int
	fileOff int64
}

// child is the location of a member inside this one.
func (l loc) child(member string, fileOff int64) loc {
	m := member
	if l.member != "" {
		m = l.member + "!" + member
	}
	return loc{file: l.file, member: m, depth: l.depth + 1, fileOff: fileOff}
}

// where is a display form for messages: file or file!member.
func (l loc) where() string {
	if l.member == "" {
		return l.file
	}
	return l.file + "!" + l.member
}

// collector gathers findings for one input, merging repeats of the same rule and
// subject (a pickle importing os.system 10,000 times is one finding with a count).
type collector struct {
	opts       Options
	findings   []scan.Finding
	notScanned []scan.NotScanned
	index      map[string]int
	dropped    int
}

func newCollector(opts Options) *collector {
	return &collector{opts: opts, index: make(map[string]int)}
}

// admit decides for a finding under key (rule, file, member, title): one already
// recorded has its count raised, one past MaxFindings is dropped (and counted), and
// a new one is given the next index, which the caller fills by appending it.
func (c *collector) admit(key string) bool {
	if i, ok := c.index[key]; ok {
		if n, ok := c.findings[i].Evidence["count"].(int); ok {
			c.findings[i].Evidence["count"] = n + 1
		}
		return false
	}
	if len(c.findings) >= c.opts.MaxFindings {
		c.dropped++
		return false
	}
	c.index[key] = len(c.findings)
	return true
}

// add records a finding of rule r at l. offset is relative to l's region (-1 when
// not applicable); ev adds rule-specific evidence; args fill the title.
func (c *collector) add(l loc, r rule, offset int64, ev map[string]any, args ...any) {
	title := fmt.Sprintf(r.title, args...)
	key := r.id + "\x00" + l.file + "\x00" + l.member + "\x00" + title
	if !c.admit(key) {
		return
	}
	evidence := map[string]any{"file": l.file, "rule": r.id, "count": 1}
	if l.member != "" {
		evidence["member"] = l.member
	}
	if offset >= 0 {
		evidence["offset"] = offset
		if l.fileOff >= 0 {
			evidence["file_offset"] = l.fileOff + offset
		}
	}
	for k, v := range ev {
		evidence[k] = v
	}
	c.findings = append(c.findings, scan.Finding{
		ScanType:    r.typ,
		Severity:    r.sev,
		Score:       r.score,
		Title:       title,
		Evidence:    evidence,
		Remediation: r.remediation,
		Target:      l.file,
	})
}

// addFinding records a finding made by another collector (a nested scan whose
// findings were held apart), under the same merging and cap.
func (c *collector) addFinding(f scan.Finding) {
	rule, _ := f.Evidence["rule"].(string)
	member, _ := f.Evidence["member"].(string)
	key := rule + "\x00" + f.Target + "\x00" + member + "\x00" + f.Title
	if c.admit(key) {
		c.findings = append(c.findings, f)
	}
}

// skip records that l (or part of it) was not scanned, and why.
func (c *collector) skip(l loc, format string, args ...any) {
	c.notScanned = append(c.notScanned, scan.NotScanned{Path: l.where(), Reason: fmt.Sprintf(format, args...)})
}

// finish returns the findings, noting (as not scanned) any that were dropped.
func (c *collector) finish(target string) ([]scan.Finding, []scan.NotScanned) {
	if c.dropped > 0 {
		c.notScanned = append(c.notScanned, scan.NotScanned{Path: target,
			Reason: fmt.Sprintf("%d further findings were not recorded (limit %d)", c.dropped, c.opts.MaxFindings)})
	}
	return c.findings, c.notScanned
}

// quote shortens untrusted text for titles: printable, single line, bounded.
func quote(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
