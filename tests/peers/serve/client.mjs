// client.mjs MODE URL MODEL ...: the official OpenAI client against
// bnserve (tests/cli/serve-peers.bats).  Prints what the client got, as
// JSON, one line:
//   chat URL MODEL TEXT MAX        a chat completion of one user message
//   chat-stream URL MODEL TEXT MAX the same, streamed: the deltas joined
//   complete URL MODEL PROMPT MAX  a completion
//   complete-stream URL MODEL PROMPT MAX
//   many URL MODEL MAX PROMPT...   one completion per prompt, all at once
// Temperature 0 throughout; the API key, if any, from OPENAI_API_KEY.
import OpenAI from "openai";

const [mode, url, model, ...rest] = process.argv.slice(2);
const client = new OpenAI({
  baseURL: url + "/v1",
  apiKey: process.env.OPENAI_API_KEY || "none",
  maxRetries: 0,
  timeout: 300000
});

async function complete(prompt, max, stream) {
  const req = { model, prompt, max_tokens: max, temperature: 0 };
  if (!stream) {
    const r = await client.completions.create(req);
    return { text: r.choices[0].text, finish: r.choices[0].finish_reason,
      usage: r.usage, object: r.object };
  }
  const s = await client.completions.create({ ...req, stream: true });
  let text = "", finish = null, chunks = 0;
  for await (const c of s) {
    chunks++;
    text += c.choices[0].text;
    if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  return { text, finish, chunks };
}

async function chat(content, max, stream) {
  const req = { model, messages: [{ role: "user", content }],
    max_tokens: max, temperature: 0 };
  if (!stream) {
    const r = await client.chat.completions.create(req);
    return { text: r.choices[0].message.content,
      role: r.choices[0].message.role,
      finish: r.choices[0].finish_reason, usage: r.usage,
      object: r.object };
  }
  const s = await client.chat.completions.create({ ...req, stream: true });
  let text = "", finish = null, chunks = 0;
  for await (const c of s) {
    chunks++;
    text += c.choices[0].delta.content || "";
    if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  return { text, finish, chunks };
}

let out;
switch (mode) {
case "chat": out = await chat(rest[0], Number(rest[1]), false); break;
case "chat-stream": out = await chat(rest[0], Number(rest[1]), true); break;
case "complete": out = await complete(rest[0], Number(rest[1]), false); break;
case "complete-stream":
  out = await complete(rest[0], Number(rest[1]), true); break;
case "many": {
  const max = Number(rest[0]);
  out = await Promise.all(rest.slice(1).map((p) => complete(p, max, true)));
  break;
}
default:
  console.error("client.mjs: unknown mode " + mode);
  process.exit(64);
}
console.log(JSON.stringify(out));
