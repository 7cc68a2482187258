// node --test scripts/realmodel/tools.test.mjs
import test from "node:test";
import assert from "node:assert/strict";
import { toolPreamble, toolMessages, parseToolCall } from "./tools.mjs";

const tools = [{ type: "function", function: { name: "get_time", description: "time", parameters: { type: "object", properties: { timezone: { type: "string" } } } } }];

test("preamble lists the offered functions, none without tools", () => {
  assert.match(toolPreamble(tools), /"name":"get_time"/);
  assert.equal(toolPreamble([]), "");
});

test("a JSON answer naming an offered function is a call", () => {
  const c = parseToolCall('```json\n{"name": "get_time", "parameters": {"timezone": "Asia/Tokyo"}}\n```', tools, "call_1");
  assert.deepEqual(c, { id: "call_1", type: "function", function: { name: "get_time", arguments: '{"timezone":"Asia/Tokyo"}' } });
});

test("text, unknown functions and prose before the JSON are not calls", () => {
  assert.equal(parseToolCall("It is 3pm in Tokyo.", tools, "x"), null);
  assert.equal(parseToolCall('{"name": "rm_rf", "parameters": {}}', tools, "x"), null);
  assert.equal(parseToolCall('Sure: {"name": "get_time", "parameters": {}}', tools, "x"), null);
  assert.equal(parseToolCall('{"name": "get_time", "parameters": [1]}', tools, "x"), null);
});

test("calls and results go back as text turns", () => {
  const msgs = toolMessages([
    { role: "user", content: "time?" },
    { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_time", arguments: '{"timezone":"UTC"}' } }] },
    { role: "tool", tool_call_id: "c1", content: '{"time":"12:00"}' },
  ]);
  assert.equal(msgs[1].role, "assistant");
  assert.match(msgs[1].content, /"name":"get_time"/);
  assert.deepEqual(msgs[2], { role: "user", content: 'Result of get_time: {"time":"12:00"}' });
});

// ---- native function calling (chat-server.mjs --chat auto)
import { grammarSchema, offeredFunctions, toFunctions, mustCall, callSchema, toChatHistory, toToolCalls } from "./tools.mjs";

const selfMod = [
  ...tools,
  { type: "function", function: { name: "update_instructions", description: "change rules", parameters: { type: "object", properties: { instruction: { type: "string", description: "the rule" }, mode: { type: "string", enum: ["add", "replace"] } }, required: ["instruction"] } } },
];

test("parameter schemas narrow to the grammar's subset, optional properties dropped", () => {
  assert.deepEqual(grammarSchema(selfMod[1].function.parameters), { type: "object", properties: { instruction: { type: "string", description: "the rule" } } });
  assert.deepEqual(grammarSchema({ type: "string", enum: ["a", "b"] }), { enum: ["a", "b"] });
  assert.deepEqual(grammarSchema({ type: ["integer", "null"] }), { type: "integer" });
  assert.deepEqual(grammarSchema({ type: "array", items: { type: "string" } }, 10), { type: "array", items: { type: "string", maxLength: 10 } });
  assert.deepEqual(grammarSchema({ anyOf: [] }, 5), { type: "string", maxLength: 5 });
  // no required list: every property is kept
  assert.deepEqual(grammarSchema(tools[0].function.parameters), { type: "object", properties: { timezone: { type: "string" } } });
});

test("tool_choice none offers nothing, a named function only that one; required and named force a call", () => {
  assert.deepEqual(offeredFunctions(selfMod, "auto").map((f) => f.name), ["get_time", "update_instructions"]);
  assert.deepEqual(offeredFunctions(selfMod, "none"), []);
  assert.deepEqual(offeredFunctions(selfMod, { type: "function", function: { name: "update_instructions" } }).map((f) => f.name), ["update_instructions"]);
  assert.equal(mustCall(undefined), false);
  assert.equal(mustCall("auto", "required"), false);
  assert.equal(mustCall(undefined, "required"), true);
  assert.equal(mustCall({ type: "function", function: { name: "get_time" } }), true);
  const fns = toFunctions(offeredFunctions(selfMod), 100);
  assert.equal(fns.update_instructions.description, "change rules");
  assert.equal(fns.update_instructions.params.properties.instruction.maxLength, 100);
});

test("a required call's grammar names one offered function with its parameters", () => {
  const one = callSchema(offeredFunctions(tools));
  assert.deepEqual(one, { type: "object", properties: { name: { const: "get_time" }, parameters: { type: "object", properties: { timezone: { type: "string" } } } } });
  const both = callSchema(offeredFunctions(selfMod));
  assert.deepEqual(both.oneOf.map((o) => o.properties.name.const), ["get_time", "update_instructions"]);
  // what the grammar admits is what parseToolCall reads back
  assert.equal(parseToolCall('{"name":"update_instructions","parameters":{"instruction":"x"}}', selfMod, "c").function.name, "update_instructions");
});

test("history: tool calls carry their results, unknown results become user text, a model turn is opened", () => {
  const h = toChatHistory([
    { role: "system", content: "Be brief." },
    { role: "user", content: [{ type: "text", text: "time?" }] },
    { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "get_time", arguments: '{"timezone":"UTC"}' } }] },
    { role: "tool", tool_call_id: "c1", content: '{"time":"12:00"}' },
    { role: "assistant", content: "It is noon." },
    { role: "tool", tool_call_id: "nope", content: "stray" },
    { role: "assistant", content: "", tool_calls: [{ id: "c2", type: "function", function: { name: "get_time", arguments: "{bad" } }] },
  ]);
  assert.deepEqual(h, [
    { type: "system", text: "Be brief." },
    { type: "user", text: "time?" },
    { type: "model", response: [{ type: "functionCall", name: "get_time", params: { timezone: "UTC" }, result: '{"time":"12:00"}' }] },
    { type: "model", response: ["It is noon."] },
    { type: "user", text: "Result of the function: stray" },
    { type: "model", response: [{ type: "functionCall", name: "get_time", params: { _raw: "{bad" }, result: "" }] },
    { type: "model", response: [] },
  ]);
});

test("the model's function calls become OpenAI tool_calls", () => {
  let n = 0;
  assert.deepEqual(toToolCalls([{ functionName: "save_memory", params: { content: "always French" } }], () => `call_${++n}`),
    [{ id: "call_1", type: "function", function: { name: "save_memory", arguments: '{"content":"always French"}' } }]);
  assert.deepEqual(toToolCalls(undefined, () => "x"), []);
});
