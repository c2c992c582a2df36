// The JS SDK's thread stream against a Threadloom server: node thread_stream.mjs URL TRANSPORT
// Prints one JSON line: the streamed text deltas, the tool calls, the interrupt and the outputs.
import { Client } from "@langchain/langgraph-sdk";
import WebSocket from "ws";

const [url, transport] = process.argv.slice(2);
const client = new Client({ apiUrl: url });
// node 20 has no global WebSocket: the SDK takes a factory
const options = { assistantId: "agent", transport, webSocketFactory: (u) => new WebSocket(u) };
const result = {};

async function withTimeout(promise, ms = 30000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

{
  const thread = client.threads.stream(options);
  await thread.run.start({ input: { messages: [{ role: "user", content: "what is 2 + 3" }] } });
  const texts = withTimeout((async () => {
    const out = [];
    for await (const message of thread.messages) {
      const deltas = [];
      for await (const delta of message.text) deltas.push(delta);
      out.push(deltas);
    }
    return out;
  })());
  const calls = withTimeout((async () => {
    const out = [];
    for await (const call of thread.toolCalls) out.push(`${call.name}:${call.callId}`);
    return out;
  })());
  [result.texts, result.tools] = await Promise.all([texts, calls]);
  result.output = await withTimeout(thread.output);
  await thread.close?.();
}
{
  const thread = client.threads.stream(options);
  await thread.run.start({ input: { messages: [{ role: "user", content: "send an email to bob" }] } });
  await withTimeout((async () => { for await (const _ of thread.values) { /* until it pauses */ } })());
  result.interrupted = thread.interrupted;
  result.interrupts = [...thread.interrupts];
  const pending = thread.interrupts[0];
  await thread.input.respond({
    namespace: pending.namespace,
    interrupt_id: pending.interruptId ?? pending.interrupt_id,
    response: { approved: true },
  });
  // the resume is a second run on the thread: wait for it, then read the thread's state
  const threadId = thread.threadId ?? thread.thread_id;
  await withTimeout((async () => {
    for (;;) {
      const runs = await client.runs.list(threadId);
      if (runs.length === 2 && runs.every((r) => r.status === "success")) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  })());
  result.resumed = (await client.threads.getState(threadId)).values;
  await thread.close?.();
}
console.log(JSON.stringify(result));
process.exit(0);
