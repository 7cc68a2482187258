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
