package scan

import (
	"slices"
	"strconv"
	"strings"
)

// Rule describes one detector: the kind of weakness a finding's RuleID names. The
// exports (SARIF rules, HTML, CycloneDX vulnerabilities) take their titles, help and
// classification from here, so every finding of one detector shares them.
type Rule struct {
	ID          string  // stable id, e.g. "pickle.dangerous_call"
	Title       string  // short description, a sentence fragment
	Description string  // full description: what was detected and why it matters
	Help        string  // what to do about it (plain text; Markdown-safe)
	HelpURI     string  // an authoritative page about the weakness
	Severity    float64 // default CVSS-like 0–10 score (SARIF security-severity)
	CWE         int     // the closest CWE, 0 when none fits
	OWASPLLM    string  // OWASP Top 10 for LLM Applications 2025 id, e.g. "LLM03"
	ATLAS       string  // MITRE ATLAS technique id, e.g. "AML.T0011.000"
}

// Tags lists the rule's classification the way code-scanning tools group rules:
// "security", the scan type, then external/cwe/cwe-N, external/owasp-llm/llmNN and
// external/mitre-atlas/aml.tNNNN.
func (r Rule) Tags(t Type) []string {
	tags := []string{"security", string(t)}
	if r.CWE > 0 {
		tags = append(tags, "external/cwe/cwe-"+strconv.Itoa(r.CWE))
	}
	if r.OWASPLLM != "" {
		tags = append(tags, "external/owasp-llm/"+strings.ToLower(r.OWASPLLM))
	}
	if r.ATLAS != "" {
		tags = append(tags, "external/mitre-atlas/"+strings.ToLower(r.ATLAS))
	}
	return tags
}

// Reference pages used as rules' helpUri.
const (
	uriCWE502   = "https://cwe.mitre.org/data/definitions/502.html"
	uriCWE22    = "https://cwe.mitre.org/data/definitions/22.html"
	uriCWE409   = "https://cwe.mitre.org/data/definitions/409.html"
	uriCWE20    = "https://cwe.mitre.org/data/definitions/20.html"
	uriCWE94    = "https://cwe.mitre.org/data/definitions/94.html"
	uriCWE829   = "https://cwe.mitre.org/data/definitions/829.html"
	uriCWE1336  = "https://cwe.mitre.org/data/definitions/1336.html"
	uriLLM01    = "https://genai.owasp.org/llmrisk/llm01-prompt-injection/"
	uriLLM02    = "https://genai.owasp.org/llmrisk/llm022025-sensitive-information-disclosure/"
	uriLLM03    = "https://genai.owasp.org/llmrisk/llm032025-supply-chain/"
	uriLLM06    = "https://genai.owasp.org/llmrisk/llm062025-excessive-agency/"
	uriLLM07    = "https://genai.owasp.org/llmrisk/llm072025-system-prompt-leakage/"
	uriLLM08    = "https://genai.owasp.org/llmrisk/llm082025-vector-and-embedding-weaknesses/"
	uriATLAS    = "https://atlas.mitre.org/techniques/"
	atlasUnsafe = "AML.T0011.000" // User Execution: Unsafe ML Artifacts
	atlasSupply = "AML.T0010.003" // ML Supply Chain Compromise: Model
)

// Fix-it texts shared by many model-file rules.
const (
	helpDoNotLoad = "Do not load this file. Obtain the model from a trusted source, or convert it to a format that carries no code (safetensors, GGUF, ONNX without custom operators) in an isolated environment, then scan the result again."
	helpReview    = "Review the named object before loading the file. Load pickles with a restricted unpickler (for example `torch.load(weights_only=True)`), or convert the model to safetensors."
	helpStructure = "Do not load this file: its structure is malformed in a way used to attack or evade loaders. Re-export it from the original model with a trusted tool and scan it again."
	helpCorrupt   = "The file is damaged and loaders run everything before the damage. Re-download or re-export it, and scan it again."
	helpTemplate  = "Replace the chat template with a reviewed one (for example the model family's published template) before serving the model."
)

func pickleRule(id, title, desc, help string, sev float64, cwe int) Rule {
	return Rule{ID: id, Title: title, Description: desc, Help: help, HelpURI: uriCWE502, Severity: sev, CWE: cwe, OWASPLLM: "LLM03", ATLAS: atlasUnsafe}
}

func structRule(id, title, desc, help, uri string, sev float64, cwe int) Rule {
	return Rule{ID: id, Title: title, Description: desc, Help: help, HelpURI: uri, Severity: sev, CWE: cwe, OWASPLLM: "LLM03", ATLAS: atlasSupply}
}

// rules is the catalogue of every detector, keyed by rule id.
var rules = func() map[string]Rule {
	list := []Rule{
		// Model files: pickle.
		pickleRule("pickle.dangerous_call", "Pickle calls a dangerous function on load", "The pickle stream imports and calls a function that runs commands, evaluates code or touches the file system or network. Unpickling the file (torch.load, joblib.load, pickle.load) runs it.", helpDoNotLoad, 9.8, 502),
		pickleRule("pickle.dangerous_import", "Pickle imports a dangerous function", "The pickle stream imports a callable that can run code or commands. Even when it is not called directly, it can be reached through later opcodes.", helpDoNotLoad, 8.5, 502),
		pickleRule("pickle.computed_import", "Pickle computes the name it imports at load time", "The module or attribute the pickle imports is built at load time, a technique used to hide a dangerous import from scanners.", helpDoNotLoad, 8.8, 502),
		pickleRule("pickle.attribute_chain", "Pickle reaches a function through an attribute chain", "The pickle walks attributes (getattr chains) from an allowed object to reach a dangerous one.", helpDoNotLoad, 8.5, 502),
		pickleRule("pickle.extension_code", "Pickle imports through copyreg extension codes", "The pickle uses EXT opcodes, which import whatever the loader's copyreg registry maps the code to: the import is invisible in the file.", helpDoNotLoad, 7.5, 502),
		pickleRule("pickle.mutates_global", "Pickle modifies an imported object", "The pickle sets state or items on an imported module or class, monkey-patching code that runs after loading.", helpDoNotLoad, 8.0, 502),
		pickleRule("pickle.unknown_import", "Pickle imports a name that is not on the allow-list", "The pickle imports a callable that is neither a known-safe ML type nor a known-dangerous one. It may be legitimate custom code or a disguised payload.", helpReview, 5.0, 502),
		pickleRule("pickle.frame_boundary", "Pickle framing is inconsistent", "An opcode starts inside a FRAME and ends past it, or a FRAME opens inside another. CPython's pickler never writes that; CPython's C unpickler then reads bytes a parser took for an argument as opcodes (cpython#154848), which hides a payload from scanners.", helpDoNotLoad, 8.0, 502),
		pickleRule("pickle.unknown_call", "Pickle calls a function that model files do not call", "On load the pickle calls a function that is on no allow-list of what real model files of its ecosystem call: the shape of a gadget that the next advisory will name.", helpDoNotLoad, 7.5, 502),
		pickleRule("pickle.nested_pickle", "Pickle holds another pickle that would run code", "A bytes value inside the pickle is itself a pickle that imports a dangerous callable; it runs if the application unpickles that value.", helpReview, 5.5, 502),
		pickleRule("pickle.nested_loader", "Pickle loads nested serialized data", "The pickle calls a loader on embedded bytes (another pickle, a NumPy array with objects); the nested data was scanned separately.", helpReview, 2.5, 502),
		pickleRule("pickle.corrupt", "Pickle stream is corrupt or truncated", "The pickle stream cannot be parsed to its end. Loaders execute every opcode before the damage, so the part after it was not checked as a loader would see it.", helpCorrupt, 5.0, 20),
		pickleRule("pickle.invalid_protocol", "Pickle declares an unsupported protocol", "The pickle's PROTO opcode names a protocol no Python release writes, a sign of a crafted or damaged file.", helpCorrupt, 5.0, 20),
		pickleRule("pickle.declared_length", "Pickle declares a length past the end of the stream", "An opcode declares more bytes than remain, a trick used to confuse parsers or exhaust memory.", helpStructure, 7.0, 1284),
		pickleRule("pickle.expansion", "Pickle builds a billion-laughs structure", "The pickle nests shared containers in shared containers, so a value that loads in microseconds has billions of paths: repr, logging, json.dumps, hashing a tuple key or comparing it walks every one, and the process hangs (CWE-776). Real data shares objects but does not nest shares of shares.", helpStructure, 7.0, 776),
		pickleRule("pickle.trailing_data", "Data follows the last pickle", "Bytes after the final STOP opcode were not analysed as pickle; loaders that read several pickles in a row would run them.", helpReview, 2.0, 20),
		pickleRule("pickle.analysis_budget", "Pickle analysis reached its memory budget", "The pickle holds more values than the analysis keeps in memory; later values were tracked without their content, so some arguments are unknown.", helpReview, 4.0, 400),
		// Model files: containers and structure.
		structRule("container.path_traversal", "Archive member escapes the extraction folder", "An archive member's name contains '..' or an absolute path, so extracting it writes outside the target folder (Zip Slip).", helpStructure, uriCWE22, 8.0, 22),
		structRule("container.decompression_bomb", "Archive member is a decompression bomb", "A member expands far beyond what honest compression reaches, exhausting disk or memory when loaded.", helpStructure, uriCWE409, 8.0, 409),
		structRule("container.overlapping_entries", "Archive members overlap", "Two members share bytes, a construction used for decompression bombs and for showing different content to different readers.", helpStructure, uriCWE20, 7.5, 20),
		structRule("container.header_mismatch", "Archive local header disagrees with the central directory", "Readers that use the local header and readers that use the central directory see different members: scanners can be shown a clean file while the loader gets another.", helpStructure, uriCWE20, 7.5, 436),
		structRule("container.past_end", "Archive member lies past the end of the file", "A member's declared offset or size reaches beyond the file.", helpStructure, uriCWE20, 7.0, 1284),
		structRule("container.duplicate_name", "Archive holds a member name more than once", "Loaders disagree on which copy they use, so a scanner may check one copy while the loader runs the other.", helpStructure, uriCWE20, 7.0, 436),
		structRule("container.prepended_data", "Data precedes the archive (polyglot file)", "Bytes before the first archive member make the file valid in two formats at once.", helpStructure, uriCWE20, 5.0, 434),
		structRule("container.malformed", "Archive is malformed", "The archive's structure is invalid in a way loaders may handle differently.", helpStructure, uriCWE20, 7.0, 20),
		structRule("container.nesting_too_deep", "Nesting too deep to scan", "Archives or serialized data are nested beyond the scanner's limit; the inner content was not scanned.", helpStructure, uriCWE409, 7.0, 674),
		{ID: "torch.torchscript_code", Title: "TorchScript code runs when the model is loaded", Description: "The archive holds TorchScript code, which torch.jit.load compiles and runs. This is normal for TorchScript exports; review it if the model should hold weights only.", Help: helpReview, HelpURI: uriCWE94, Severity: 1.0, CWE: 94, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		structRule("format.past_end", "Declared size or offset lies past the end of the file", "A header declares data beyond the end of the file, a trick used to crash or confuse loaders.", helpStructure, uriCWE20, 7.0, 1284),
		structRule("format.overlap", "Declared data regions overlap", "Two tensors or sections claim the same bytes, so readers may see different content.", helpStructure, uriCWE20, 7.5, 20),
		structRule("format.huge_length", "Declared length is implausibly large", "A header declares a length far beyond any real model, to exhaust a loader's memory.", helpStructure, uriCWE409, 7.0, 789),
		structRule("format.duplicate_key", "Header holds a key more than once", "Parsers disagree on which value wins, so a scanner and a loader may read different metadata.", helpStructure, uriCWE20, 7.0, 436),
		structRule("format.invalid", "File structure is invalid", "The file does not follow its format; loaders may reject it or read it differently from this scanner.", helpCorrupt, uriCWE20, 5.0, 20),
		structRule("format.uncovered_data", "Data not covered by the file's header", "Bytes that no header entry accounts for can carry a hidden payload.", helpStructure, uriCWE20, 5.0, 20),
		// Model files: templates, ONNX, Keras, code.
		{ID: "template.code_execution", Title: "Chat template can run code when rendered", Description: "The Jinja chat template reaches Python internals (server-side template injection), so rendering a prompt runs code in the serving process.", Help: helpTemplate, HelpURI: uriCWE1336, Severity: 9.5, CWE: 1336, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "template.smuggled_instructions", Title: "Chat template smuggles instructions", Description: "The chat template injects instructions into every conversation that the user and the operator do not see.", Help: helpTemplate, HelpURI: uriLLM01, Severity: 8.0, CWE: 1427, OWASPLLM: "LLM01", ATLAS: "AML.T0051.001"},
		{ID: "template.hidden_text", Title: "Chat template hides invisible characters", Description: "The chat template contains invisible or direction-changing characters that hide text from reviewers.", Help: helpTemplate, HelpURI: uriLLM01, Severity: 7.5, CWE: 1427, OWASPLLM: "LLM01", ATLAS: "AML.T0051.001"},
		{ID: "onnx.custom_operator_domain", Title: "ONNX model needs custom operators", Description: "The model uses operators from a custom domain, which only run if the loader registers native code for them.", Help: helpReview, HelpURI: uriCWE829, Severity: 7.5, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "savedmodel.dangerous_op", Title: "TensorFlow SavedModel graph reads or writes files or runs Python", Description: "The graph uses an op (ReadFile, WriteFile, MatchingFiles, ImmutableConst, PyFunc, EagerPyFunc) that reaches outside the model when TensorFlow serves it.", Help: helpReview, HelpURI: uriCWE829, Severity: 8.0, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "onnx.external_data_escape", Title: "ONNX external data path escapes the model folder", Description: "An external-data location points outside the model's folder, so loading the model reads arbitrary files.", Help: helpStructure, HelpURI: uriCWE22, Severity: 8.5, CWE: 22, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		structRule("container.native_code", "Model holds compiled native code", "A file or archive member is an ELF, Mach-O or PE executable or shared library. PyTorch AOTInductor packages (.pt2) hold the compiled model as one and aoti_load_package loads it; whatever loads it runs it with the application's rights, beyond what any model scanner can check.", helpReview, uriCWE829, 6.0, 829),
		{ID: "executorch.custom_op", Title: "ExecuTorch program needs a kernel ExecuTorch does not ship", Description: "The program calls an operator outside the namespaces of ExecuTorch's kernel libraries; it runs only if the application links native code under that name.", Help: helpReview, HelpURI: uriCWE829, Severity: 5.0, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "executorch.custom_delegate", Title: "ExecuTorch program delegates to a backend ExecuTorch does not ship", Description: "Part of the program is handed to a backend id that none of ExecuTorch's backends registers; it runs only if the application registers native code under that id.", Help: helpReview, HelpURI: uriCWE829, Severity: 5.0, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "executorch.native_delegate", Title: "ExecuTorch program carries a compiled shared library", Description: "The program delegates to the CUDA or Metal backend (AOTInductor), whose payload is a shared library the runtime loads and runs: native code from the file. Load it only from a source you trust.", Help: helpReview, HelpURI: uriCWE829, Severity: 5.5, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "tflite.custom_op", Title: "TensorFlow Lite model needs a custom operator", Description: "The model uses a custom operator that TensorFlow Lite does not ship; it runs only if the application registers native code under that name.", Help: helpReview, HelpURI: uriCWE829, Severity: 5.0, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "tflite.flex_op", Title: "TensorFlow Lite model runs a file or Python TensorFlow op", Description: "The model runs a TensorFlow op (ReadFile, WriteFile, MatchingFiles, ImmutableConst, PyFunc, EagerPyFunc) through the Flex delegate, reaching outside the model.", Help: helpReview, HelpURI: uriCWE829, Severity: 8.0, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "openvino.custom_layer", Title: "OpenVINO model needs an extension", Description: "A layer comes from an operation set that OpenVINO does not ship; it runs only if the application loads a native extension library for it.", Help: helpReview, HelpURI: uriCWE829, Severity: 5.0, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "coreml.custom_class", Title: "Core ML model needs an application class", Description: "A custom model or custom neural-network layer names an Objective-C/Swift class that the application must provide; the model does not run without that code.", Help: helpReview, HelpURI: uriCWE829, Severity: 5.0, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "hf.weight_map_escape", Title: "Sharded checkpoint index points outside the model folder", Description: "A weight_map entry of model.safetensors.index.json or pytorch_model.bin.index.json names an absolute path or climbs out of the folder, so loading the model reads (and for .bin shards unpickles) a file it does not own.", Help: helpStructure, HelpURI: uriCWE22, Severity: 8.5, CWE: 22, OWASPLLM: "LLM03", ATLAS: atlasSupply},
		{ID: "keras.external_load", Title: "Keras layer loads code or a graph from outside the file", Description: "A layer such as TFSMLayer or a TF Hub layer names a path, handle or URL that Keras loads when the model is rebuilt, so the model runs whatever is there.", Help: helpDoNotLoad, HelpURI: uriCWE829, Severity: 8.0, CWE: 829, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "keras.reads_file", Title: "Keras layer reads a file when the model is rebuilt", Description: "A lookup layer reads its vocabulary from a path outside the model file.", Help: helpReview, HelpURI: uriCWE22, Severity: 5.0, CWE: 22, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "keras.lambda_code", Title: "Keras model carries serialized Python code", Description: "A Lambda layer or similar holds marshalled Python bytecode, which Keras runs when the model is loaded or called.", Help: helpDoNotLoad, HelpURI: uriCWE94, Severity: 9.0, CWE: 94, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "keras.dangerous_object", Title: "Keras model loads a dangerous object", Description: "The model config names a function or class that runs commands or code when the model is deserialized.", Help: helpDoNotLoad, HelpURI: uriCWE502, Severity: 9.5, CWE: 502, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "skops.dangerous_type", Title: "skops file rebuilds a dangerous type", Description: "The skops schema names a function, type or method that runs commands or code (a FunctionTransformer's func, an operator function, a dunder method); skops.io.load rebuilds it once the caller trusts it, as callers do with get_untrusted_types.", Help: helpDoNotLoad, HelpURI: uriCWE502, Severity: 8.5, CWE: 502, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "skops.unknown_type", Title: "skops file rebuilds a type that is not on the allow-list", Description: "The skops schema names a type that is neither a known scikit-learn, NumPy or Python type nor a known-dangerous one, such as a class of the script that saved it.", Help: helpReview, HelpURI: uriCWE502, Severity: 5.0, CWE: 502, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "yaml.python_call", Title: "YAML calls a dangerous function through a Python tag", Description: "A !!python/object/apply or !!python/object/new tag calls a function that runs commands or code when PyYAML's unsafe loader (yaml.Loader, UnsafeLoader, unsafe_load) reads the file, as model configs often are.", Help: helpDoNotLoad, HelpURI: uriCWE502, Severity: 9.5, CWE: 502, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "yaml.python_import", Title: "YAML imports a dangerous name through a Python tag", Description: "A !!python/name, !!python/module or !!python/object tag names a dangerous function, class or module that PyYAML's unsafe loader imports.", Help: helpDoNotLoad, HelpURI: uriCWE502, Severity: 8.5, CWE: 502, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "yaml.unknown_call", Title: "YAML calls a function that is not on the allow-list", Description: "A !!python/object/apply or !!python/object/new tag calls a function that is neither known-safe nor known-dangerous; calling functions on load is how gadgets are reached.", Help: helpDoNotLoad, HelpURI: uriCWE502, Severity: 7.5, CWE: 502, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "yaml.unknown_import", Title: "YAML imports a name that is not on the allow-list", Description: "A Python tag names a class or module that is neither known-safe nor known-dangerous, such as a class of the script that wrote the file.", Help: helpReview, HelpURI: uriCWE502, Severity: 5.0, CWE: 502, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "keras.unknown_object", Title: "Keras model loads an object from outside Keras", Description: "The model config names a class or function from another package; it runs that package's code on load.", Help: helpReview, HelpURI: uriCWE502, Severity: 3.0, CWE: 502, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "keras.tf_op", Title: "Keras TFOpLambda layer calls a dangerous operation", Description: "A TFOpLambda layer calls a TensorFlow operation that reads or writes files or runs code.", Help: helpDoNotLoad, HelpURI: uriCWE94, Severity: 7.5, CWE: 94, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "code.python_source", Title: "Python source ships with the model", Description: "Python files next to the model run when it is loaded with trust_remote_code.", Help: helpReview, HelpURI: uriCWE94, Severity: 3.0, CWE: 94, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},
		{ID: "code.python_dangerous", Title: "Python source shipped with the model runs dangerous calls", Description: "Python files next to the model call functions that run commands, evaluate code or reach the network.", Help: helpDoNotLoad, HelpURI: uriCWE94, Severity: 8.0, CWE: 94, OWASPLLM: "LLM03", ATLAS: atlasUnsafe},

		// Live models: jailbreak.
		jailbreakRule("role_play", "Role-play persona talks the model out of its policy"),
		jailbreakRule("hypothetical", "Hypothetical framing extracts forbidden output"),
		jailbreakRule("instruction_override", "Forged instructions override the system prompt"),
		jailbreakRule("encoding", "Encoded instructions are decoded and obeyed"),
		jailbreakRule("many_shot", "Many-shot fake history makes the model comply"),
		jailbreakRule("multi_turn_escalation", "Gradual escalation over several turns bypasses the policy"),
		jailbreakRule("refusal_suppression", "Refusal suppression forces compliance"),
		jailbreakRule("payload_splitting", "Split payload is reassembled and obeyed"),
		jailbreakRule("off_topic", "An off-topic request or an injected objective pulls the model away from its purpose"),
		{ID: "jailbreak.goal_hijack", Title: "Instructions inside task data hijack the task", Description: "Text the model was asked to process (a document to classify, a request to turn into a command) carried an instruction, and the model followed it instead of its task: indirect prompt injection.",
			Help: "Treat processed content as data: delimit it and tell the model it holds no instructions, constrain the output to the task's format and validate it, and keep tools behind checks the model cannot talk its way past.", HelpURI: uriLLM01, Severity: 7.0, CWE: 1427, OWASPLLM: "LLM01", ATLAS: "AML.T0051.001"},
		// Live models: model inversion.
		{ID: "model_inversion.planted_record", Title: "Confidential record reconstructed from a partial prefix", Description: "Given the start of a record the model was given or trained on, it completes the confidential rest.", Help: "Remove confidential records from training and fine-tuning data and from the context; deduplicate training data and filter completions of known sensitive prefixes.", HelpURI: uriLLM02, Severity: 8.0, CWE: 200, OWASPLLM: "LLM02", ATLAS: "AML.T0024.001"},
		{ID: "model_inversion.known_record", Title: "Memorised text reproduced verbatim", Description: "The model reproduces long passages verbatim from a short prefix, showing memorisation of its training data.", Help: "Deduplicate training data, train with regularisation or differential privacy, and filter long verbatim completions.", HelpURI: uriLLM02, Severity: 5.0, CWE: 200, OWASPLLM: "LLM02", ATLAS: "AML.T0024.001"},
		{ID: "model_inversion.membership_inference", Title: "Log-probabilities reveal training membership", Description: "Token log-probabilities separate records the model has seen from records it has not.", Help: "Do not expose log-probabilities to untrusted callers, or round them; train with differential privacy where membership is sensitive.", HelpURI: uriLLM02, Severity: 5.0, CWE: 203, OWASPLLM: "LLM02", ATLAS: "AML.T0024.000"},
		{ID: "model_inversion.divergence", Title: "Divergence attack makes the model emit memorised data", Description: "Asked to repeat a word or phrase without end, the model left the repetition and emitted credentials, valid personal data or long verbatim runs of known text it was not asked for: data memorised from training, extractable without any access to the training set.", Help: "Stop runaway repetition in decoding (frequency and presence penalties, a repetition detector that ends the answer), filter outputs for credentials and personal data, and scrub and deduplicate training data.", HelpURI: uriLLM02, Severity: 7.0, CWE: 200, OWASPLLM: "LLM02", ATLAS: "AML.T0057"},
		{ID: "model_inversion.training_data_extraction", Title: "Model emits memorised credentials or personal data on request", Description: "Asked to continue its training data, or given the first characters of a secret (a .env file, a private key header, a customer export), the model produced credentials or checksum-valid personal data. A credential whose format was proven offline (a GitHub token's checksum, a private key that parses) cannot come out by chance: it was memorised.", Help: "Run secret scanning and personal-data scrubbing over training data, filter outputs for credentials and checksum-valid identifiers, and revoke any credential found.", HelpURI: uriLLM02, Severity: 7.5, CWE: 200, OWASPLLM: "LLM02", ATLAS: "AML.T0057"},
		{ID: "model_inversion.logprob_membership", Title: "Logprobs reveal training-set membership (rank test)", Description: "Over many pairs of texts, the log-probabilities of continuations of texts the model was trained on are significantly higher than of fresh texts (one-sided Mann-Whitney U test; the p-value, n and AUC are in the evidence), so anyone who gets logprobs can test whether a text was in the training data.", Help: "Do not return logprobs to untrusted callers, or round and clip them; train with differential privacy where training-set membership is sensitive.", HelpURI: uriLLM02, Severity: 5.0, CWE: 203, OWASPLLM: "LLM02", ATLAS: "AML.T0024.000"},
		// Live models: PII.
		{ID: "pii_leakage.context_disclosure", Title: "Confidential personal data disclosed to a caller", Description: "The model discloses personal data from its context or tools to a caller who is not entitled to it.", Help: "Keep personal data out of prompts unless the caller is entitled to it; enforce access control in the application, not in the prompt; mask personal data in responses.", HelpURI: uriLLM02, Severity: 8.0, CWE: 359, OWASPLLM: "LLM02", ATLAS: "AML.T0057"},
		{ID: "pii_leakage.training_recall", Title: "Model emits personal data of individuals", Description: "The model produces contact details or other personal data of real-looking individuals on request.", Help: "Scrub personal data from training data, filter personal data in outputs, and refuse requests for individuals' contact details.", HelpURI: uriLLM02, Severity: 7.0, CWE: 359, OWASPLLM: "LLM02", ATLAS: "AML.T0057"},
		// Live models: prompt artifacts.
		{ID: "prompt_artifacts.system_prompt_extraction", Title: "System prompt disclosed", Description: "The model reveals its system prompt or hidden instructions when asked or tricked.", Help: "Keep secrets and access rules out of system prompts (the prompt is not a security boundary); detect and block verbatim prompt disclosure in outputs.", HelpURI: uriLLM07, Severity: 6.5, CWE: 200, OWASPLLM: "LLM07", ATLAS: "AML.T0056"},
		{ID: "prompt_artifacts.cross_conversation", Title: "Data from one conversation surfaces in another", Description: "Content from one user's conversation appears in another's, through shared caches, memory or state.", Help: "Isolate conversation state per user and session: caches, memory stores and prompt prefixes must be keyed by tenant.", HelpURI: uriLLM02, Severity: 8.0, CWE: 488, OWASPLLM: "LLM02", ATLAS: "AML.T0057"},
		{ID: "prompt_artifacts.template_tokens", Title: "Chat-template tokens appear in responses", Description: "The model's answers contain chat-template control tokens, so its output can forge turn boundaries downstream.", Help: "Fix the serving stack's chat template and stop tokens, and strip control tokens from responses.", HelpURI: uriLLM01, Severity: 5.5, CWE: 150, OWASPLLM: "LLM05"},
		{ID: "prompt_artifacts.template_token_leak", Title: "Chat-template control tokens leak into responses", Description: "Across the run, responses contain chat-template control tokens: the serving stack's template or stop tokens are wrong.", Help: "Fix the serving stack's chat template and stop tokens (the tokenizer's chat_template and eos/stop ids in vLLM, TGI or llama.cpp) and strip control tokens from responses before they reach users.", HelpURI: uriLLM01, Severity: 6.5, CWE: 150, OWASPLLM: "LLM05"},
		// Live models: self-modification.
		selfModRule("persona_rewrite", "Model adopts a user-assigned persona and keeps it", uriLLM01, "LLM01"),
		selfModRule("rule_rewrite", "Model accepts a new permanent rule from the user", uriLLM01, "LLM01"),
		selfModRule("tool_config_rewrite", "Model accepts changes to its tool configuration", uriLLM06, "LLM06"),
		selfModRule("persistent_memory", "Instruction saved to memory changes later conversations", uriLLM01, "LLM01"),
		toolSelfModRule("tool_rule_write", "Model rewrites its own instructions through a tool", "a tool that writes its system prompt or standing instructions", "AML.T0081"),
		toolSelfModRule("tool_memory_write", "Model saves a user's instruction to long-term memory", "a memory tool whose saved entries later conversations read", "AML.T0080.000"),
		toolSelfModRule("tool_config_write", "Model changes its own configuration through a tool", "a tool that changes its settings", "AML.T0081"),
		toolSelfModRule("tool_file_write", "Model writes attacker rules into a file its deployment reads", "a file tool that reaches its own configuration", "AML.T0081"),
		// Embeddings.
		{ID: "embedding_reidentification.reidentification", Title: "Embeddings re-identify people beyond a lexical matcher", Description: "Nearest-neighbour search over the embeddings links partial or paraphrased descriptions back to the person's record significantly more often than a lexical matcher (TF-IDF over words or character trigrams) does on the same text: the vectors carry identifying meaning beyond the words.", Help: "Treat embeddings of personal records as personal data: restrict access to the vector store, do not expose raw vectors or similarity search to untrusted callers, and strip direct identifiers before embedding.", HelpURI: uriLLM08, Severity: 7.0, CWE: 359, OWASPLLM: "LLM08", ATLAS: "AML.T0024.001"},
		{ID: "embedding_reidentification.attribute_inference", Title: "Embeddings reveal a held-out attribute", Description: "The embeddings let an attacker infer a sensitive attribute that was not in the query more often than a lexical matcher or the majority guess would.", Help: "Strip sensitive attributes before embedding, restrict similarity search, and consider noise addition or per-tenant keys.", HelpURI: uriLLM08, Severity: 6.0, CWE: 359, OWASPLLM: "LLM08", ATLAS: "AML.T0024.001"},
		{ID: "embedding_reidentification.inversion", Title: "Text reconstructed from its embedding vector", Description: "Given only a text's vector and the embeddings endpoint, a search over candidate phrases reconstructs the text's names, numbers and sensitive attributes well above chance: the vectors are as sensitive as the text they encode.", Help: "Keep vector stores access-controlled and encrypted, never return raw embeddings to untrusted callers, and keep names, numbers and health data out of embedded text (or embed a redacted copy).", HelpURI: uriLLM08, Severity: 8.0, CWE: 359, OWASPLLM: "LLM08", ATLAS: "AML.T0024.001"},
	}
	m := make(map[string]Rule, len(list))
	for _, r := range list {
		m[r.ID] = r
	}
	return m
}()

func jailbreakRule(family, title string) Rule {
	return Rule{ID: "jailbreak." + family, Title: title,
		Description: "A " + strings.ReplaceAll(family, "_", " ") + " jailbreak made the model break its system policy: it produced output its rules forbid.",
		Help:        "Strengthen the model's refusal training or system prompt against this technique, and add an input and output filter (a guard model or policy classifier) for policy-bound deployments.",
		HelpURI:     uriLLM01, Severity: 7.0, CWE: 1427, OWASPLLM: "LLM01", ATLAS: "AML.T0054"}
}

func selfModRule(family, title, uri, owasp string) Rule {
	return Rule{ID: "self_modification." + family, Title: title,
		Description: "A user changed the model's own behaviour, rules or configuration for later turns or conversations (" + strings.ReplaceAll(family, "_", " ") + ").",
		Help:        "Do not let conversation content change standing instructions, personas, tool settings or memory without an authorised, audited path; re-assert the system policy on every turn.",
		HelpURI:     uri, Severity: 7.0, CWE: 1427, OWASPLLM: owasp, ATLAS: "AML.T0051.000"}
}

func toolSelfModRule(family, title, tool, atlas string) Rule {
	return Rule{ID: "self_modification." + family, Title: title,
		Description: "Offered " + tool + ", the model called it with a rule supplied by the user, although its instructions reserve such changes to the operators. The evidence has the call (name and arguments) and whether the rule was followed in later turns.",
		Help:        "Do not give the model tools that change its own instructions, memory, configuration or rules files; where such a tool must exist, enforce authorisation in the tool, not in the prompt, and review writes before they take effect.",
		HelpURI:     uriLLM06, Severity: 7.5, CWE: 1427, OWASPLLM: "LLM06", ATLAS: atlas}
}

// typeRule is the fallback rule of a scan type: for findings of a detector not in
// the catalogue and for the informational notes a scan reports about itself.
func typeRule(t Type, id string) Rule {
	title := map[Type]string{
		ModelInversion: "Model inversion", PIILeakage: "PII leakage", EmbeddingReidentification: "Embedding re-identification",
		PromptArtifacts: "Prompt artifacts", Jailbreak: "Jailbreak", SelfModification: "Self-modification / code on load",
	}[t]
	if title == "" {
		title = string(t)
	}
	r := Rule{ID: id, Title: title + " finding", Description: "A " + strings.ToLower(title) + " finding; see its message and evidence.",
		Help: "Read the finding's evidence and remediation, fix the cause and scan again.", HelpURI: uriATLAS, Severity: 5.0}
	if strings.HasSuffix(id, ".scan_note") {
		r.Title = title + " scan note"
		r.Description = "A note about the scan itself (probes that could not be run or judged, a budget that ran out): coverage is incomplete."
		r.Help = "No action on the model; rerun the scan with a larger budget or after fixing the failing requests to cover every probe."
		r.Severity = 0
	}
	return r
}

// RuleID returns the finding's detector id: f.RuleID when the scanner set it, else
// one derived from its evidence, so findings stored before RuleID existed (or by a
// scanner that does not set it) still group by detector:
//   - evidence "rule" (model files): that id;
//   - evidence "probe_family" (live models): scan_type.family, or
//     prompt_artifacts.template_token_leak for the run-wide template finding;
//   - embedding findings: embedding_reidentification.inversion when the evidence
//     counts "secrets", .attribute_inference when it names an "attribute", else
//     .reidentification;
//   - informational notes without a detector: scan_type.scan_note;
//   - anything else: the scan type.
func RuleID(f Finding) string {
	if f.RuleID != "" {
		return f.RuleID
	}
	if r, _ := f.Evidence["rule"].(string); r != "" {
		return r
	}
	if f.ScanType == EmbeddingReidentification {
		if _, ok := f.Evidence["secrets"]; ok {
			return string(EmbeddingReidentification) + ".inversion"
		}
		if _, ok := f.Evidence["attribute"]; ok {
			return string(EmbeddingReidentification) + ".attribute_inference"
		}
		return string(EmbeddingReidentification) + ".reidentification"
	}
	if _, ok := f.Evidence["responses_affected"]; ok && f.ScanType == PromptArtifacts {
		return string(PromptArtifacts) + ".template_token_leak"
	}
	if fam, _ := f.Evidence["probe_family"].(string); fam != "" {
		return string(f.ScanType) + "." + fam
	}
	if f.Severity == Info {
		return string(f.ScanType) + ".scan_note"
	}
	return string(f.ScanType)
}

// WithRuleIDs sets every finding's RuleID that is empty to RuleID(f), in place, and
// returns fs. It is the one place findings get their detector id before they leave
// the scan package (reports, the API's finding lists): the store keeps no rule
// column, the id is derived from the evidence each time.
func WithRuleIDs(fs []Finding) []Finding {
	for i := range fs {
		if fs[i].RuleID == "" {
			fs[i].RuleID = RuleID(fs[i])
		}
	}
	return fs
}

// RuleFor returns the catalogue entry of the finding's detector, or a generic rule
// of its scan type when the detector is not catalogued (never an empty rule).
func RuleFor(f Finding) Rule {
	id := RuleID(f)
	if r, ok := rules[id]; ok {
		return r
	}
	return typeRule(f.ScanType, id)
}

// Rules returns the catalogue, sorted by id.
func Rules() []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	return out
}
