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
