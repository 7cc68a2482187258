// OpenAI-compatible /v1/chat/completions over a GGUF chat model, run on the CPU by
// node-llama-cpp. Non-streaming and streaming (SSE) answers; "logprobs": true returns
// each generated token's log-probability (the sampler's confidence, so the log of
// the model's softmax at temperature 0). Requests are served one at a time (one
// context sequence): the machine has two shared cores.
//
// Two chat formats (--chat):
//   gemma (default): Gemma's turns written by hand; non-streaming requests that offer
//     OpenAI "tools" get function calling by prompt (tools.mjs): an answer that is
//     one JSON call of an offered function comes back as message.tool_calls.
//   auto: the model's own chat template as node-llama-cpp resolves it (ChatML,
//     Llama 3, Qwen, ...), and node-llama-cpp's own function calling: the offered
//     tools become its functions, the calls the model makes come back as
//     message.tool_calls (streamed as a tool_calls delta), earlier calls and "tool"
//     results go back into the template as function calls with their results.
//     tool_choice "none" offers no function; "required" or a named function makes
//     the answer one call, constrained by a grammar built from the parameter
//     schemas; --tool-choice sets the default for requests that give none (auto).
//
// Usage: node chat-server.mjs --model FILE --port N [--name gemma-3-270m] [--ctx 2048]
//          [--chat gemma|auto] [--tool-choice auto|required] [--max-arg-chars 240]
// Listens on 127.0.0.1 only.
import http from "node:http";
import { parseArgs } from "node:util";
import { getLlama, LlamaChat, resolveChatWrapper } from "node-llama-cpp";
import {
  toolPreamble, toolMessages, parseToolCall,
  offeredFunctions, toFunctions, mustCall, callSchema, toChatHistory, toToolCalls,
} from "./tools.mjs";

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
    chat: { type: "string", default: "gemma" },
    "tool-choice": { type: "string", default: "auto" },
    // Bound on each string argument of a function call (characters), so a small
    // model that loops inside an argument still closes the call.
    "max-arg-chars": { type: "string", default: "240" },
  },
});
if (!args.model) {
  console.error("--model is required");
  process.exit(2);
}
if (!["gemma", "auto"].includes(args.chat) || !["auto", "required"].includes(args["tool-choice"])) {
  console.error("--chat is gemma or auto, --tool-choice auto or required");
  process.exit(2);
}

const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath: args.model });
const context = await model.createContext({ contextSize: Number(args.ctx), threads: Number(args.threads) });
const sequence = context.getSequence();
const maxCap = Number(args["max-tokens-cap"]);
const native = args.chat === "auto";
const chatWrapper = native ? resolveChatWrapper(model) : null;
const nativeChat = native ? new LlamaChat({ contextSequence: sequence, chatWrapper }) : null;
if (native) console.error(`chat: ${chatWrapper.wrapperName} template, tool_choice default ${args["tool-choice"]}`);

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

const newCallId = () => "call_" + Math.random().toString(36).slice(2);

function tooLong(promptTokens, maxTokens) {
  if (promptTokens + maxTokens <= Number(args.ctx)) return;
  const err = new Error(`prompt of ${promptTokens} tokens plus max_tokens ${maxTokens} exceeds the context of ${args.ctx}`);
  err.status = 400;
  throw err;
}

// generateNative answers a request that offers tools with node-llama-cpp's function
// calling (or, when a call is required, a grammar-constrained JSON call).
async function generateNative(req, onToken, gone) {
  const started = Date.now();
  const fns = offeredFunctions(req.tools, req.tool_choice);
  const forced = fns.length > 0 && mustCall(req.tool_choice, args["tool-choice"]);
  let history = toChatHistory(req.messages);
  const maxTokens = Math.min(Number(req.max_tokens ?? req.max_completion_tokens ?? 256), maxCap);
  const maxArg = Number(args["max-arg-chars"]);
  const functions = forced ? undefined : toFunctions(fns, maxArg);
  if (forced) history = [{ type: "system", text: toolPreamble(fns.map((f) => ({ type: "function", function: f }))) }, ...history];
  const state = chatWrapper.generateContextState({ chatHistory: history, availableFunctions: functions, documentFunctionParams: true });
  const promptTokens = state.contextText.tokenize(model.tokenizer).length;
  tooLong(promptTokens, maxTokens);
  const ac = new AbortController();
  const opts = {
    maxTokens, temperature: Number(req.temperature ?? 0), seed: Number(req.seed ?? 0), signal: ac.signal, stopOnAbortSignal: true,
    onTextChunk: (text) => { if (gone()) ac.abort(); else if (!forced) onToken?.(text, 0); },
  };
  if (forced) opts.grammar = await llama.createGrammarForJsonSchema(callSchema(fns, maxArg));
  else if (fns.length > 0) { opts.functions = functions; opts.documentFunctionParams = true; opts.maxParallelFunctionCalls = 1; }
  const r = await nativeChat.generateResponse(history, opts);
  let toolCalls = toToolCalls(r.functionCalls, newCallId);
  let text = r.response;
  if (forced) {
    const call = parseToolCall(text, fns.map((f) => ({ type: "function", function: f })), newCallId());
    toolCalls = call ? [call] : [];
  }
  const outTokens = model.tokenize(text).length;
  const stop = r.metadata.stopReason;
  const finish = toolCalls.length > 0 ? "tool_calls" : stop === "maxTokens" ? "length" : "stop";
  console.error(`chat: ${promptTokens} prompt + ${outTokens} output tokens, ${toolCalls.length} tool calls${forced ? " (required)" : ""} in ${Date.now() - started} ms`);
  return { text: toolCalls.length > 0 && forced ? null : text, toolCalls, finish, promptTokens, outTokens };
}

async function generate(req, onToken, gone) {
  if (gone()) return { out: [], finish: "cancelled", promptTokens: 0 };
  const started = Date.now();
  // Non-streaming requests with "tools" get function calling by prompt (tools.mjs).
  let messages = req.messages ?? [];
  if (!native && !req.stream && Array.isArray(req.tools) && req.tools.length > 0) {
    messages = [{ role: "system", content: toolPreamble(req.tools) }, ...toolMessages(messages)];
  }
  const prompt = native
    ? chatWrapper.generateContextState({ chatHistory: toChatHistory(messages) }).contextText.tokenize(model.tokenizer)
    : model.tokenize(gemmaPrompt(messages), true);
  const maxTokens = Math.min(Number(req.max_tokens ?? req.max_completion_tokens ?? 256), maxCap);
  tooLong(prompt.length, maxTokens);
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

// answerWithTools answers a request that offers tools on the native path, streamed
// (text deltas, then one tool_calls delta) or not.
async function answerWithTools(body, res, id, created, gone) {
  const usage = (r) => ({ prompt_tokens: r.promptTokens, completion_tokens: r.outTokens, total_tokens: r.promptTokens + r.outTokens });
  if (body.stream) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const chunk = (delta, finish) =>
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: args.name, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
    chunk({ role: "assistant", content: "" }, null);
    const r = await serialized(() => generateNative(body, (text) => chunk({ content: text }, null), gone));
    if (r.toolCalls.length > 0) chunk({ tool_calls: r.toolCalls.map((c, index) => ({ index, ...c })) }, null);
    chunk({}, r.finish);
    if (body.stream_options?.include_usage) {
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: args.name, choices: [], usage: usage(r) })}\n\n`);
    }
    res.end("data: [DONE]\n\n");
    return;
  }
  const r = await serialized(() => generateNative(body, undefined, gone));
  const message = { role: "assistant", content: r.text || (r.toolCalls.length > 0 ? null : "") };
  if (r.toolCalls.length > 0) message.tool_calls = r.toolCalls;
  send(res, 200, { id, object: "chat.completion", created, model: args.name, choices: [{ index: 0, message, finish_reason: r.finish }], usage: usage(r) });
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
    if (native && offeredFunctions(body.tools, body.tool_choice).length > 0) {
      return await answerWithTools(body, res, id, created, gone);
    }
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
