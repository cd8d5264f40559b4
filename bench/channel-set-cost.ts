/**
 * A rough measure, in one Node process: server CPU per delivered event of one K-channel stream per
 * subscriber (src/hub/channel-set.ts) against K single-channel streams per subscriber, on the
 * in-memory hub, bodies read as web streams in the same process (the reading costs both the same).
 *
 *   npx tsx bench/channel-set-cost.ts [K=5] [subscribers=200] [messages per channel=100] [set|single]
 *
 * Not part of `npm run bench`; see docs/architecture.md ("Several channels in one stream").
 */
import { channelSetStream } from "../src/hub/channel-set.ts";
import { MemoryHub } from "../src/hub/memory.ts";
import { OpenStreams } from "../src/sse/index.ts";

const SETTINGS = { retry: 1000, keepAliveMs: 0, maxBufferedBytes: 1 << 24, maxBufferedEvents: 100_000 };
const [k = 5, subscribers = 200, messages = 100] = process.argv.slice(2, 5).map(Number);
const mode = process.argv[5] === "single" ? "single" : "set";
const request = new Request("http://bench.test/");
const delivered = { events: 0 };

/** Counts events (a blank line ends each) as the client reads them. */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<void> {
  const reader = (body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    for (let i = 1; i < value.length; i++) if (value[i] === 10 && value[i - 1] === 10) delivered.events++;
  }
}

const hub = new MemoryHub(1000, SETTINGS, new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 }));
const channels = Array.from({ length: k }, (_, i) => `c${i}`);
for (let s = 0; s < subscribers; s++) {
  if (mode === "set") {
    const options = { channels, cursor: undefined, request, signal: undefined, settings: SETTINGS };
    void drain((await channelSetStream(hub, options)).body);
  } else {
    for (const channel of channels) {
      void drain((await hub.stream(channel, { after: undefined, request, signal: undefined })).body);
    }
  }
}
await new Promise((resolve) => setTimeout(resolve, 200));
const before = delivered.events;
const cpu = process.cpuUsage();
const started = performance.now();
for (let m = 0; m < messages; m++) {
  for (const channel of channels)
    await hub.publish(channel, { data: { text: `message ${m}, about eighty bytes of text` } });
  await new Promise((resolve) => setImmediate(resolve));
}
const expected = before + messages * k * subscribers;
while (delivered.events < expected) await new Promise((resolve) => setTimeout(resolve, 5));
const used = process.cpuUsage(cpu);
const events = delivered.events - before;
const result = {
  mode,
  channels: k,
  subscribers,
  delivered: events,
  cpuMicrosecondsPerEvent: Number(((used.user + used.system) / events).toFixed(2)),
  wallMs: Math.round(performance.now() - started),
};
console.log(JSON.stringify(result));
process.exit(0);
