/**
 * Server CPU per delivered event of one K-channel stream per subscriber (src/hub/channel-set.ts)
 * against K single-channel streams per subscriber, K = 1, 5 and 20, on the in-memory hub and on
 * Redis, under Node, Bun and Deno. Each measurement is one process of its own: it opens the streams,
 * publishes 100 messages on each channel (one per channel per turn: the turn's K publishes sent
 * together and awaited together; `--publish apart` awaits each before the next, which on Redis spaces
 * them a round trip apart, so that each announcement comes alone), reads every body as a web stream
 * in the same process and prints its CPU per delivered event. About 100,000 events per measurement:
 * 1000 / K subscribers. A warm-up (500 messages a channel, `--warmup N`) goes first and is not
 * counted: cold, Bun's first 25 messages cost about as much CPU as the next 100 (JavaScriptCore
 * compiling the hot paths), a cost per process that would otherwise outweigh the cost per event. The
 * readers do not scan what they read (that would charge the longer lines of the multi-channel stream,
 * its cursor, to the server as a JS loop over bytes, where a server hands them to a socket): the
 * measurement ends when every reader's last event carries the last position. The bytes per event are
 * printed, so that difference shows, and the delivered events/s (events over the wall time from the
 * first publish to the last event read: publisher and readers share the process, so it mostly
 * follows the CPU).
 *
 *   npx tsx bench/channel-set-cost.ts [--runtimes node,bun,deno] [--backends memory,redis]
 *                                     [--channels 1,5,20] [--runs 3] [--warmup 500] [--publish together|apart]
 *
 * Redis: a redis-server of its own on a free loopback port (Debian's `redis-server`). Its CPU is not
 * counted: only the process that serves the streams. Not part of `npm run bench`; the figures are in
 * docs/architecture.md ("Several channels in one stream").
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { setImmediate } from "node:timers";
import { fileURLToPath } from "node:url";
import { channelSetStream } from "../src/hub/channel-set.ts";
import type { Hub } from "../src/hub/hub.ts";
import { MemoryHub } from "../src/hub/memory.ts";
import { OpenStreams } from "../src/sse/index.ts";

const SETTINGS = { retry: 1000, keepAliveMs: 0, maxBufferedBytes: 1 << 24, maxBufferedEvents: 100_000 };
const MESSAGES = 100;
// Bun's JavaScriptCore still compiles the multi-channel stream's hot paths after 100 messages a channel:
// on Bun in memory, a 5-channel stream measured after 100 cost about what five single streams did,
// after 400 about 0.8 of it (Dec 6 2026, three runs each, load 10 to 12).
const WARMUP = 500;
const EVENTS_PER_RUN = 100_000;

interface Measured {
  runtime: string;
  backend: string;
  mode: "set" | "single";
  channels: number;
  subscribers: number;
  events: number;
  bytesPerEvent: number;
  cpuMicrosecondsPerEvent: number;
  /** Delivered events over the wall time from the first publish to the last chunk read. */
  eventsPerSecond: number;
}

/** One measurement, in this process: `--one <runtime> <backend> <K> <set|single> <warm-up> [redis URL]`. */
async function measure(
  runtime: string,
  backend: string,
  k: number,
  mode: "set" | "single",
  warmup: number,
  url: string | undefined,
  apart: boolean,
): Promise<Measured> {
  const subscribers = Math.round(EVENTS_PER_RUN / MESSAGES / k);
  const openStreams = new OpenStreams({ maxStreams: 0, maxStreamsPerClient: 0 });
  let hub: Hub;
  if (backend === "redis") {
    const { connectRedisHub } = await import("../src/hub/redis/connect.ts");
    hub = await connectRedisHub({
      url: url as string,
      historyLimit: 1000,
      streams: SETTINGS,
      openStreams,
      timeoutMs: 5000,
    });
  } else {
    hub = new MemoryHub(1000, SETTINGS, openStreams);
  }
  const request = new Request("http://bench.test/");
  let bytes = 0;
  // Each reader keeps only its last chunk; its bytes are not scanned (see the header).
  const readers: { last: Uint8Array | undefined; channel: number | undefined; at: number }[] = [];
  const drain = async (body: ReadableStream<Uint8Array> | null, channel: number | undefined) => {
    const state = { last: undefined as Uint8Array | undefined, channel, at: 0 };
    readers.push(state);
    const reader = (body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      bytes += value.byteLength;
      state.last = value;
      state.at = performance.now();
    }
  };
  // Fresh names on every run: Redis keeps history between runs.
  const channels = Array.from({ length: k }, (_, i) => `bench-${Date.now().toString(36)}-${i}`);
  for (let s = 0; s < subscribers; s++) {
    if (mode === "set") {
      const options = { channels, cursor: undefined, request, signal: undefined, settings: SETTINGS };
      void drain((await channelSetStream(hub, options)).body, undefined);
    } else {
      for (const [i, channel] of channels.entries()) {
        void drain((await hub.stream(channel, { after: undefined, request, signal: undefined })).body, i);
      }
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Publishes `messages` on each channel, one per channel per turn, and waits until every reader's
  // last event carries the last position: its channel's last id, or the cursor with every channel's.
  // The streams are exact (the tests' business), so every message came.
  const decoder = new TextDecoder();
  const publishAll = async (messages: number) => {
    const lastIds: number[] = [];
    for (let m = 0; m < messages; m++) {
      const publish = (channel: string) => hub.publish(channel, { data: { text: `message ${m}, about forty bytes` } });
      if (apart) {
        // Each awaited before the next: on Redis a round trip apart, so each announcement comes alone.
        for (const [i, channel] of channels.entries()) lastIds[i] = (await publish(channel)).event.id;
      } else {
        const published = await Promise.all(channels.map(publish));
        for (const [i, { event }] of published.entries()) lastIds[i] = event.id;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const cursor = channels.map((channel, i) => `${channel}:${lastIds[i]}`).join(",");
    const done = (reader: (typeof readers)[number]) => {
      const last = reader.last;
      if (last === undefined) return false;
      const id = reader.channel === undefined ? cursor : String(lastIds[reader.channel]);
      return decoder.decode(last.subarray(Math.max(0, last.length - 4096))).includes(`id: ${id}\n`);
    };
    while (!readers.every(done)) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  // Not counted: the runtime compiles the hot paths as they warm up (JavaScriptCore, on threads of
  // its own whose CPU the process is charged), a cost per process, not per event.
  if (warmup > 0) await publishAll(warmup);
  const bytesBefore = bytes;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await publishAll(MESSAGES);
  // Until the last read: the wait for it polls every 20 ms, which is not the streams' time.
  const seconds = (Math.max(...readers.map((reader) => reader.at)) - started) / 1000;
  const used = process.cpuUsage(cpu);
  const events = MESSAGES * k * subscribers;
  return {
    runtime,
    backend,
    mode,
    channels: k,
    subscribers,
    events,
    bytesPerEvent: Math.round((bytes - bytesBefore) / events),
    cpuMicrosecondsPerEvent: (used.user + used.system) / events,
    eventsPerSecond: events / seconds,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "channel-set-cost-"));
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", ""], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk;
  });
  const deadline = Date.now() + 10_000;
  while (!output.includes("Ready to accept connections")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const root = fileURLToPath(new URL("..", import.meta.url));
const here = fileURLToPath(import.meta.url);
const COMMANDS: Record<string, string[]> = {
  node: ["node", "--import", "tsx", here],
  bun: [join(root, "node_modules/.bin/bun"), here],
  deno: [join(root, "node_modules/.bin/deno"), "run", "-A", here],
};

function option(name: string, fallback: string): string[] {
  const at = process.argv.indexOf(`--${name}`);
  return (at === -1 ? fallback : (process.argv[at + 1] ?? fallback)).split(",");
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  const one = process.argv.indexOf("--one");
  if (one !== -1) {
    const [runtime = "node", backend = "memory", k = "5", mode = "set", warmup = "0", publish, url] =
      process.argv.slice(one + 1);
    const measured = await measure(
      runtime,
      backend,
      Number(k),
      mode === "single" ? "single" : "set",
      Number(warmup),
      url || undefined,
      publish === "apart",
    );
    console.log(JSON.stringify(measured));
    process.exit(0);
  }
  const runtimes = option("runtimes", "node,bun,deno");
  const backends = option("backends", "memory,redis");
  const ks = option("channels", "1,5,20").map(Number);
  const runs = Number(option("runs", "3")[0]);
  const warmup = option("warmup", String(WARMUP))[0] as string;
  const publish = option("publish", "together")[0] as string;
  const redis = backends.includes("redis") ? await startRedis() : undefined;
  const rows: string[] = [];
  try {
    for (const runtime of runtimes) {
      for (const backend of backends) {
        for (const k of ks) {
          const figures: Record<string, number[]> = { set: [], single: [] };
          const rates: Record<string, number[]> = { set: [], single: [] };
          const eventBytes: Record<string, number> = {};
          for (let run = 0; run < runs; run++) {
            // Alternated, so that a machine busy for a while weighs on both alike.
            for (const mode of ["set", "single"]) {
              const [command, ...args] = COMMANDS[runtime] as string[];
              const child = spawnSync(
                command as string,
                [...args, "--one", runtime, backend, String(k), mode, warmup, publish, redis?.url ?? ""],
                {
                  cwd: root,
                  encoding: "utf8",
                  timeout: 120_000,
                },
              );
              const line = child.stdout.trim().split("\n").pop() ?? "";
              if (child.status !== 0 || !line.startsWith("{"))
                throw new Error(`${runtime} ${backend} ${k} ${mode}: ${child.stderr}`);
              const measured = JSON.parse(line) as Measured;
              figures[mode]?.push(measured.cpuMicrosecondsPerEvent);
              rates[mode]?.push(measured.eventsPerSecond);
              eventBytes[mode] = measured.bytesPerEvent;
            }
          }
          const [set, single] = [figures.set as number[], figures.single as number[]];
          const fmt = (mode: string, values: number[]) =>
            `${median(values).toFixed(2)} (${values.map((v) => v.toFixed(2)).join(" ")}), ${eventBytes[mode]} B`;
          const rate = (mode: string) => Math.round(median(rates[mode] as number[])).toLocaleString("en");
          const row = `| ${runtime} | ${backend} | ${k} | ${fmt("set", set)} | ${fmt("single", single)} | ${(median(set) / median(single)).toFixed(2)} | ${rate("set")} / ${rate("single")} |`;
          rows.push(row);
          console.error(row);
        }
      }
    }
  } finally {
    redis?.stop();
  }
  console.log(
    "| runtime | hub | K | µs/event (runs), bytes/event: one K-channel stream | the same: K single streams | ratio | delivered events/s: K-channel / K single |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const row of rows) console.log(row);
}

await main();
