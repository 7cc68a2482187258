// Function calling for chat-server.mjs, by prompt: Gemma 3 has no tool tokens, so
// the OpenAI "tools" of a request are described in the prompt (the approach of
// Google's "Function calling with Gemma" guide) and an answer that is one JSON
// object naming an offered function becomes an OpenAI tool call. Earlier calls and
// their results ("tool" messages) go back into the prompt as plain turns. Pure
// functions, so they are tested without a model (tools.test.mjs).

// toolPreamble describes the offered functions and the answer format.
export function toolPreamble(tools) {
  const fns = (tools ?? []).filter((t) => t?.type === "function" && t.function?.name).map((t) => ({
    name: t.function.name, description: t.function.description ?? "", parameters: t.function.parameters ?? { type: "object", properties: {} },
  }));
  if (fns.length === 0) return "";
  return "You can call these functions. To call one, answer with only a JSON object of the form " +
    '{"name": "<function name>", "parameters": {<argument name>: <value>}} and no other text. ' +
    "If no function is needed, answer normally.\n" + JSON.stringify(fns) + "\n\n";
}

// toolMessages rewrites assistant tool calls and tool results as text turns.
export function toolMessages(messages) {
  const names = new Map();
  const out = [];
  for (const m of messages ?? []) {
    if (m.role === "assistant" && Array.isArray(m.tool_calls) && m.tool_calls.length > 0) {
      const calls = m.tool_calls.map((c) => {
        names.set(c.id, c.function?.name);
        let params = {};
        try { params = JSON.parse(c.function?.arguments || "{}"); } catch { params = { _raw: c.function?.arguments }; }
        return JSON.stringify({ name: c.function?.name, parameters: params });
      });
      out.push({ role: "assistant", content: [typeof m.content === "string" ? m.content : "", ...calls].filter(Boolean).join("\n") });
    } else if (m.role === "tool") {
      const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
      out.push({ role: "user", content: `Result of ${names.get(m.tool_call_id) ?? "the function"}: ${text}` });
    } else {
      out.push(m);
    }
  }
  return out;
}

// parseToolCall reads an answer as a call of one of the offered functions, or
// returns null when it is ordinary text.
export function parseToolCall(text, tools, id) {
  const names = new Set((tools ?? []).map((t) => t?.function?.name).filter(Boolean));
  const s = text.replace(/^```(?:json|tool_code)?\s*/i, "").replace(/```\s*$/, "").trim();
  const start = s.indexOf("{"), end = s.lastIndexOf("}");
  if (start < 0 || end <= start || s.slice(0, start).trim().length > 0) return null;
  let obj;
  try { obj = JSON.parse(s.slice(start, end + 1)); } catch { return null; }
  if (!obj || typeof obj !== "object" || !names.has(obj.name)) return null;
  const args = obj.parameters ?? obj.arguments ?? {};
  if (typeof args !== "object" || Array.isArray(args)) return null;
  return { id, type: "function", function: { name: obj.name, arguments: JSON.stringify(args) } };
}

// ---- Native function calling (models whose chat template node-llama-cpp knows, e.g.
// ChatML, Llama 3, Qwen, FunctionGemma): the OpenAI request is translated to
// node-llama-cpp's chat history and functions, and the model's own calls come back
// as OpenAI tool_calls.

// grammarSchema narrows an OpenAI (JSON Schema) parameter schema to what
// node-llama-cpp's grammar supports: strings (with enums), numbers, booleans, arrays
// and objects. node-llama-cpp makes every listed property required, so an object
// keeps only its required properties when it names any. maxLen (optional) bounds
// every string, so a small model that loops inside an argument still closes its call.
export function grammarSchema(s, maxLen) {
  if (!s || typeof s !== "object") return { type: "string" };
  const d = typeof s.description === "string" ? { description: s.description } : {};
  if (Array.isArray(s.enum) && s.enum.length > 0 && s.enum.every((v) => ["string", "number", "boolean"].includes(typeof v) || v === null)) {
    return { enum: s.enum, ...d };
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  switch (type) {
    case "string": return maxLen > 0 ? { type: "string", maxLength: maxLen, ...d } : { type: "string", ...d };
    case "number": case "integer": return { type: type, ...d };
    case "boolean": return { type: "boolean", ...d };
    case "array": return { type: "array", items: grammarSchema(s.items, maxLen), ...d };
    case "object": {
      const props = s.properties && typeof s.properties === "object" ? s.properties : {};
      const req = Array.isArray(s.required) ? s.required.filter((k) => k in props) : [];
      const keys = req.length > 0 ? req : Object.keys(props);
      return { type: "object", properties: Object.fromEntries(keys.map((k) => [k, grammarSchema(props[k], maxLen)])), ...d };
    }
    default: return grammarSchema({ ...s, type: "string" }, maxLen);
  }
}

// offeredFunctions returns the request's function tools, or only the one that
// tool_choice names; none for tool_choice "none".
export function offeredFunctions(tools, toolChoice) {
  const fns = (tools ?? []).filter((t) => t?.type === "function" && t.function?.name).map((t) => t.function);
  if (toolChoice === "none") return [];
  const named = toolChoice?.type === "function" ? toolChoice.function?.name : undefined;
  return named ? fns.filter((f) => f.name === named) : fns;
}

// toFunctions gives node-llama-cpp's ChatModelFunctions for the offered functions.
export function toFunctions(fns, maxLen) {
  return Object.fromEntries(fns.map((f) => [f.name, { description: f.description ?? "", params: grammarSchema(f.parameters ?? { type: "object", properties: {} }, maxLen) }]));
}

// mustCall says whether the request requires a function call ("required" or a named
// function); defaultChoice applies when the request has no tool_choice.
export function mustCall(toolChoice, defaultChoice = "auto") {
  const c = toolChoice ?? defaultChoice;
  return c === "required" || c?.type === "function";
}

// callSchema is the grammar for a required call in the JSON form parseToolCall reads.
export function callSchema(fns, maxLen) {
  const one = (f) => ({ type: "object", properties: { name: { const: f.name }, parameters: grammarSchema(f.parameters ?? { type: "object", properties: {} }, maxLen) } });
  return fns.length === 1 ? one(fns[0]) : { oneOf: fns.map(one) };
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => p?.text ?? "").join("");
  return "";
}

// toChatHistory turns OpenAI messages into node-llama-cpp chat history: assistant
// tool calls become function calls whose result is the matching "tool" message,
// and the history ends with the empty model turn to generate.
export function toChatHistory(messages) {
  const out = [];
  const pending = new Map(); // tool_call_id -> function call item awaiting its result
  for (const m of messages ?? []) {
    const text = textOf(m.content);
    if (m.role === "system" || m.role === "developer") {
      out.push({ type: "system", text });
    } else if (m.role === "user") {
      out.push({ type: "user", text });
    } else if (m.role === "assistant") {
      const response = text ? [text] : [];
      for (const c of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
        let params = {};
        try { params = JSON.parse(c.function?.arguments || "{}"); } catch { params = { _raw: c.function?.arguments }; }
        const item = { type: "functionCall", name: c.function?.name ?? "", params, result: "" };
        pending.set(c.id, item);
        response.push(item);
      }
      out.push({ type: "model", response });
    } else if (m.role === "tool") {
      const item = pending.get(m.tool_call_id);
      if (item) item.result = text;
      else out.push({ type: "user", text: `Result of the function: ${text}` });
    }
  }
  out.push({ type: "model", response: [] });
  return out;
}

// toToolCalls turns node-llama-cpp's function calls into OpenAI tool_calls.
export function toToolCalls(calls, newId) {
  return (calls ?? []).map((c) => ({ id: newId(), type: "function", function: { name: c.functionName, arguments: JSON.stringify(c.params ?? {}) } }));
}
