// OpenAI-compatible /v1/chat/completions over a GGUF chat model, run on the CPU by
// node-llama-cpp. Non-streaming and streaming (SSE) answers; "logprobs": true returns
// each generated token's log-probability (the sampler's confidence, so the log of
// the model's softmax at temperature 0). Requests are served one at a time (one
// context sequence): the machine has two shared cores.
//
// Non-streaming requests that offer OpenAI "tools" get function calling by prompt
// (tools.mjs): an answer that is one JSON call of an offered function comes back as
// message.tool_calls with finish_reason "tool_calls".
//
// Usage: node chat-server.mjs --model FILE --port N [--name gemma-3-270m] [--ctx 2048]
// Listens on 127.0.0.1 only.
import http from "node:http";
import { parseArgs } from "node:util";
import { getLlama } from "node-llama-cpp";
import { toolPreamble, toolMessages, parseToolCall } from "./tools.mjs";

const { values: args } = parseArgs({
  options: {
    model: { type: "string" },
    port: { type: "string", default: "18110" },
    name: { type: "string", default: "gemma-3-270m" },
    ctx: { type: "string", default: "2048" },
    // One thread: on a shared, oversubscribed CPU llama.cpp's spinning thread barriers
    // make two threads far slower than one.
    threads: { type: "string", default: "1" },
    "max-tokens-cap": { type: "string", default: "512" },
  },
});
if (!args.model) {
  console.error("--model is required");
  process.exit(2);
}

const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath: args.model });
const context = await model.createContext({ contextSize: Number(args.ctx), threads: Number(args.threads) });
const sequence = context.getSequence();
const maxCap = Number(args["max-tokens-cap"]);

// Gemma's chat format: no system role, so the system prompt opens the first user
// turn (as Gemma's own template does).
function gemmaPrompt(messages) {
  let out = "<bos>";
  let pendingSystem = "";
  for (const m of messages) {
    const text = typeof m.content === "string" ? m.content
      : Array.isArray(m.content) ? m.content.map((p) => p.text ?? "").join("") : "";
    if (m.role === "system" || m.role === "developer") {
      pendingSystem += text + "\n\n";
      continue;
    }
    const role = m.role === "assistant" ? "model" : "user";
    const body = role === "user" ? pendingSystem + text : text;
    if (role === "user") pendingSystem = "";
    out += `<start_of_turn>${role}\n${body.trim()}<end_of_turn>\n`;
  }
  if (pendingSystem) out += `<start_of_turn>user\n${pendingSystem.trim()}<end_of_turn>\n`;
  return out + "<start_of_turn>model\n";
}

let queue = Promise.resolve();
function serialized(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

const endOfTurn = model.tokenize("<end_of_turn>", true);

async function generate(req, onToken, gone) {
  if (gone()) return { out: [], finish: "cancelled", promptTokens: 0 };
  const started = Date.now();
  // Non-streaming requests with "tools" get function calling by prompt (tools.mjs).
  let messages = req.messages ?? [];
  if (!req.stream && Array.isArray(req.tools) && req.tools.length > 0) {
    messages = [{ role: "system", content: toolPreamble(req.tools) }, ...toolMessages(messages)];
  }
  const prompt = model.tokenize(gemmaPrompt(messages), true);
  const maxTokens = Math.min(Number(req.max_tokens ?? req.max_completion_tokens ?? 256), maxCap);
  if (prompt.length + maxTokens > Number(args.ctx)) {
    const err = new Error(`prompt of ${prompt.length} tokens plus max_tokens ${maxTokens} exceeds the context of ${args.ctx}`);
    err.status = 400;
    throw err;
  }
  await sequence.clearHistory();
  const temperature = Number(req.temperature ?? 0);
  const opts = { temperature, seed: Number(req.seed ?? 0) };
  const out = [];
  let finish = "length";
  for await (const step of sequence.evaluateWithMetadata(prompt, { confidence: true }, opts)) {
    if (model.isEogToken(step.token) || (endOfTurn.length === 1 && step.token === endOfTurn[0])) {
      finish = "stop";
      break;
    }
    const text = model.detokenize([step.token], false, out.map((o) => o.token));
    const lp = Math.log(Math.max(step.confidence, 1e-12));
    out.push({ token: step.token, text, logprob: lp });
    onToken?.(text, lp);
    if (out.length >= maxTokens || gone()) break;
  }
  console.error(`chat: ${prompt.length} prompt + ${out.length} output tokens in ${Date.now() - started} ms${gone() ? " (client gone)" : ""}`);
  return { out, finish, promptTokens: prompt.length };
}

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  if (req.method === "GET" && req.url === "/v1/models") {
    return send(res, 200, { object: "list", data: [{ id: args.name, object: "model", owned_by: "local" }] });
  }
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
    return send(res, 404, { error: { message: "not found", type: "invalid_request_error" } });
  }
  let raw = "";
  for await (const chunk of req) {
    raw += chunk;
    if (raw.length > 1 << 20) return send(res, 413, { error: { message: "request too large" } });
  }
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    return send(res, 400, { error: { message: "invalid JSON", type: "invalid_request_error" } });
  }
  const id = "chatcmpl-" + Math.random().toString(36).slice(2);
  const created = Math.floor(Date.now() / 1000);
  const wantLogprobs = body.logprobs === true;
  // A client that gave up (timeout) must not keep the single sequence busy: its
  // queued request is skipped and a running one stops at the next token.
  let closed = false;
  res.on("close", () => { closed = true; });
  const gone = () => closed && !res.writableFinished;
  try {
    if (body.stream) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const chunk = (delta, finish, extra) =>
        res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: args.name, choices: [{ index: 0, delta, finish_reason: finish, ...extra }] })}\n\n`);
      chunk({ role: "assistant", content: "" }, null);
      const r = await serialized(() => generate(body, (text, lp) =>
        chunk({ content: text }, null, wantLogprobs ? { logprobs: { content: [{ token: text, logprob: lp }] } } : {}), gone));
      chunk({}, r.finish);
      if (body.stream_options?.include_usage) {
        res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: args.name, choices: [], usage: { prompt_tokens: r.promptTokens, completion_tokens: r.out.length, total_tokens: r.promptTokens + r.out.length } })}\n\n`);
      }
      res.end("data: [DONE]\n\n");
      return;
    }
    const r = await serialized(() => generate(body, undefined, gone));
    const text = r.out.map((o) => o.text).join("");
    const choice = { index: 0, message: { role: "assistant", content: text }, finish_reason: r.finish };
    const call = Array.isArray(body.tools) && body.tools.length > 0 ? parseToolCall(text, body.tools, "call_" + Math.random().toString(36).slice(2)) : null;
    if (call) {
      choice.message = { role: "assistant", content: null, tool_calls: [call] };
      choice.finish_reason = "tool_calls";
    }
    if (wantLogprobs) choice.logprobs = { content: r.out.map((o) => ({ token: o.text, logprob: o.logprob })) };
    send(res, 200, {
      id, object: "chat.completion", created, model: args.name, choices: [choice],
      usage: { prompt_tokens: r.promptTokens, completion_tokens: r.out.length, total_tokens: r.promptTokens + r.out.length },
    });
  } catch (err) {
    if (res.headersSent) return res.end();
    send(res, err.status ?? 500, { error: { message: String(err.message ?? err), type: err.status ? "invalid_request_error" : "server_error" } });
  }
});
server.listen(Number(args.port), "127.0.0.1", () => console.log(`chat: ${args.name} on http://127.0.0.1:${args.port}/v1`));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
