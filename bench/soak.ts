/**
 * `npm run soak`: edge-sse under a long steady load with churn, on Node and on Bun. N subscribers
 * on raw sockets follow one channel; a publisher posts messages at a fixed rate; every second a few
 * subscribers drop and come back a moment later with `Last-Event-ID`, the rest stay. Bounded: it
 * stops by itself after `--duration`. Checks, each a pass or a fail:
 *
 * - every subscriber saw every published id exactly once and in order (those that stayed, and
 *   those that dropped and resumed, over all their connections);
 * - every resumption started at the id right after the one the subscriber had last seen;
 * - no subscriber was dropped by the server and no replay was cut short (`history-truncated`);
 * - the server's RSS at the end is within 10% of its RSS after the warm-up;
 * - `activeStreams` returns to 0 once every subscriber has gone.
 *
 * The Redis variant runs several server processes on one redis-server of its own: subscribers are
 * spread over them, the publisher posts to each in turn, and a subscriber that comes back resumes
 * on the next process, not the one it left. RSS is then the sum over the server processes.
 *
 *   npm run soak                                           2000 subscribers, 50 messages/s, 10 min, Node then Bun,
 *                                                          then a Node and a Bun process on one Redis
 *   npm run soak -- --duration=60 --subscribers=500 --runtimes=node --backends=memory
 *   npm run soak -- --node-heap-mb=0                       Node with V8's own heap sizing (see serverCommand)
 *
 * Writes bench/results/soak.json and the "Soak" section of docs/reliability.md; exits 1 if a check
 * failed. Everything talks to 127.0.0.1 only.
 */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { freePort, spawnGroup, stopGroup, waitUntilServing } from "../test/support/process-group.ts";
import { type RunningRedis, startRedis } from "../test/support/redis.ts";
import { processTree, rssBytes } from "./process-stats.ts";
import { writeSoakReport } from "./soak/report.ts";
import { SoakSubscriber } from "./soak/subscriber.ts";

export type SoakRuntime = "node" | "bun";

export interface SoakOptions {
  runtime: SoakRuntime;
  /**
   * The server processes, all on one Redis started for the run (the Redis variant); without it,
   * one process of `runtime` with the in-memory hub.
   */
  redisServers?: SoakRuntime[];
  durationSeconds: number;
  subscribers: number;
  messagesPerSecond: number;
  /** Share of the churning subscribers dropped each second. */
  churnPerSecond: number;
  /** How long the server runs under load before its RSS is taken as the baseline. */
  warmupSeconds: number;
  /**
   * How far RSS at the end may be from RSS after the warm-up, as a share (default 0.1). A short run
   * needs more: its end comes while the runtimes' heaps still settle.
   */
  rssTolerance?: number;
  /** Node's `--max-old-space-size` (see serverCommand); 0 leaves V8's default. */
  nodeHeapMb?: number;
  /** Prints progress every this many seconds (0: quiet). */
  progressEverySeconds?: number;
}

export interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

export interface SoakResult {
  runtime: SoakRuntime;
  /** `memory`: one process; `redis`: `processes` on one Redis. */
  backend?: "memory" | "redis";
  processes?: number;
  version: string;
  /** How the server was started, beyond its defaults. */
  serverFlags: string;
  durationSeconds: number;
  warmupSeconds: number;
  subscribers: number;
  stayers: number;
  churners: number;
  messagesPerSecond: number;
  /** From the first publish to the last answer: over the duration if the load client fell behind. */
  publishedInSeconds: number;
  /** Messages the server stored (from its history), the first one included. */
  published: number;
  /** POSTs that did not get their 201, and why. */
  publishErrors: string[];
  /** Ids the publisher was given that the history reads did not list (they fell behind): must be 0. */
  acknowledgedButNotListed: number;
  deliveredEvents: number;
  reconnections: number;
  serverCloses: number;
  rssAfterWarmup: number;
  rssAtEnd: number;
  rssPeak: number;
  /** RSS every few seconds, from when the load started. */
  rssSamples: { seconds: number; rss: number }[];
  activeStreamsAfterClose: number;
  checks: Check[];
  passed: boolean;
}

const HOST = "127.0.0.1";
const CHANNEL = "soak";
const ROOT = join(import.meta.dirname, "..");
const RSS_SAMPLE_MS = 2_000;
/** How far RSS at the end may be from RSS after the warm-up, unless a run says otherwise. */
const RSS_TOLERANCE = 0.1;
/** A dropped subscriber comes back after this long, at random (ms). */
const AWAY_MS = { min: 200, max: 3_000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The server's settings: its defaults, but for the limits a single load client would run into.
 * One publisher posts every message (the publish rate limit), and every subscriber comes from one
 * address, as behind a proxy (the per-client stream cap; the total cap only if N nears it).
 */
function serverSettings(subscribers: number, redisUrl?: string): Record<string, string> {
  return {
    ...(redisUrl === undefined ? {} : { REDIS_URL: redisUrl }),
    PUBLISH_RATE_LIMIT: "0",
    MAX_STREAMS_PER_CLIENT: "0",
    ...(subscribers * 1.5 > 10_000 ? { MAX_STREAMS: "0" } : {}),
  };
}

/**
 * The heap limit the Node server gets unless told otherwise: about 4× the live heap measured at
 * 2000 subscribers, and more for more subscribers.
 */
export const defaultNodeHeapMb = (subscribers: number) => Math.max(128, Math.ceil(subscribers / 20));

/**
 * The server as its runtime binary, as the benchmark starts it: its RSS is the process's own.
 *
 * Node gets a bounded old generation (`--max-old-space-size`), as a container would give it.
 * Without one, V8 grows its old generation for minutes before it next collects it: measured here
 * with 2000 subscribers and churn, no mark-compact ran between 1.3 s and 90 s while the heap in use
 * climbed from 35 to 99 MB and RSS by 27%; with a 90 MB limit, the heap after each mark-compact
 * stayed at 33 to 35 MB for 100 s. RSS would then measure V8's heap sizing, not leaks; a leak
 * still shows under the limit, as growth and in the end an out-of-memory crash.
 */
function serverCommand(runtime: SoakRuntime, nodeHeapMb: number): { cmd: string; args: string[] } {
  const entry = join(ROOT, `src/runtime/${runtime}.ts`);
  if (runtime === "node") {
    const heap = nodeHeapMb > 0 ? [`--max-old-space-size=${nodeHeapMb}`] : [];
    return { cmd: process.execPath, args: [...heap, "--import", "tsx", entry] };
  }
  return { cmd: join(ROOT, "node_modules/.bin/bun"), args: [entry] };
}

function runtimeVersion(runtime: SoakRuntime): string {
  if (runtime === "node") return `Node ${process.version}`;
  const bun = JSON.parse(readFileSync(join(ROOT, "node_modules/bun/package.json"), "utf8")) as { version: string };
  return `Bun ${bun.version}`;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  return (await response.json()) as T;
}

// Tries of a publish whose connection failed before any answer (a keep-alive socket the server
// closed as the request went out: "other side closed", seen on a loaded machine). Safe to retry:
// the same Idempotency-Key stores it once.
const PUBLISH_TRIES = 3;

/** Posts one message: its id, or why it failed. */
async function publish(base: string, seq: number): Promise<number | string> {
  let failure = "";
  for (let attempt = 1; attempt <= PUBLISH_TRIES; attempt++) {
    try {
      const response = await fetch(base, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": `soak-${seq}` },
        body: JSON.stringify({ text: `soak message ${seq}` }),
        signal: AbortSignal.timeout(30_000),
      });
      // 200: a retry of one that was stored (Idempotent-Replayed), answered with the first's id.
      if (response.status !== 201 && response.status !== 200) return `${response.status} ${await response.text()}`;
      return ((await response.json()) as { id: number }).id;
    } catch (error) {
      failure = String((error as Error).cause ?? error);
    }
  }
  return failure;
}

/**
 * The ids the server stored after `after`, from its history (oldest first, paged). Read every
 * second, well within the retained history (1000 messages, 20 s at 50/s), this is the list every
 * subscriber must have seen, whatever the publisher was told.
 */
async function storedAfter(base: string, after: number): Promise<number[]> {
  const ids: number[] = [];
  for (let cursor = after; ; ) {
    const page = (await getJson<{ messages: { id: number }[] }>(`${base}?after=${cursor}&limit=1000`)).messages;
    for (const message of page) ids.push(message.id);
    if (page.length < 1000) return ids;
    cursor = page.at(-1)?.id as number;
  }
}

/** Opens `subscribers` in batches (the accept backlog is finite), retrying one that fails to open. */
async function openAll(subscribers: SoakSubscriber[], batch = 200): Promise<void> {
  for (let i = 0; i < subscribers.length; i += batch) {
    await Promise.all(subscribers.slice(i, i + batch).map((subscriber) => openWithRetry(subscriber)));
  }
}

async function openWithRetry(subscriber: SoakSubscriber, attempts = 5): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await subscriber.open();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(100 * attempt);
    }
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function soak(options: SoakOptions): Promise<SoakResult> {
  const { runtime, durationSeconds, messagesPerSecond, warmupSeconds } = options;
  const kinds = options.redisServers ?? [runtime];
  const label = kinds.join("+") + (options.redisServers ? " on Redis" : "");
  const log = (text: string) => options.progressEverySeconds && console.log(`[soak ${label}] ${text}`);
  const nodeHeapMb = options.nodeHeapMb ?? defaultNodeHeapMb(options.subscribers);
  const subscribers: SoakSubscriber[] = [];
  const intervals: NodeJS.Timeout[] = [];
  const comebacks: NodeJS.Timeout[] = [];
  const children: ReturnType<typeof spawnGroup>[] = [];
  let redis: RunningRedis | undefined;
  try {
    if (options.redisServers) redis = await startRedis();
    const settings = serverSettings(options.subscribers, redis?.url);
    const ports: number[] = [];
    for (const kind of kinds) {
      const port = await freePort(HOST);
      const { cmd, args } = serverCommand(kind, nodeHeapMb);
      children.push(spawnGroup(cmd, args, { env: { ...process.env, PORT: String(port), HOST, ...settings } }));
      ports.push(port);
    }
    const urls = ports.map((port) => `http://${HOST}:${port}`);
    const bases = urls.map((url) => `${url}/api/channels/${CHANNEL}/messages`);
    const base = bases[0] as string;
    for (const [i, { child, output }] of children.entries()) {
      try {
        await waitUntilServing(`${urls[i]}/api/stats`, child, 60_000);
      } catch (error) {
        throw new Error(`${kinds[i]} did not start: ${(error as Error).message}\n${output()}`);
      }
    }
    const output = () => children.map((child) => child.output()).join("\n");
    const pids = children.flatMap(({ child }) => processTree(child.pid as number));

    // A first message fixes where ids start, before anyone subscribes.
    const firstId = await publish(base, 0);
    if (typeof firstId === "string") throw new Error(`the first publish failed: ${firstId}\n${output()}`);

    // Half the subscribers stay connected throughout; the other half churn.
    const reconnectQueue = new Set<SoakSubscriber>();
    const comeBack = (subscriber: SoakSubscriber) => {
      reconnectQueue.add(subscriber);
      // With several processes, resume on the next one: resume works on any process.
      subscriber.address.port = ports[(ports.indexOf(subscriber.address.port) + 1) % ports.length] as number;
      const away = AWAY_MS.min + Math.random() * (AWAY_MS.max - AWAY_MS.min);
      const timer = setTimeout(async () => {
        try {
          await openWithRetry(subscriber);
        } catch {
          // counted in failedOpens; the checks report the missing ids
        }
        reconnectQueue.delete(subscriber);
      }, away);
      comebacks.push(timer);
    };
    for (let i = 0; i < options.subscribers; i++) {
      const address = {
        host: HOST,
        port: ports[i % ports.length] as number,
        path: `/api/channels/${CHANNEL}/messages/stream`,
      };
      subscribers.push(new SoakSubscriber(address, firstId, comeBack));
    }
    const stayers = subscribers.filter((_, i) => i % 2 === 0);
    const churners = subscribers.filter((_, i) => i % 2 === 1);
    await openAll(subscribers);
    // Each process counts its own subscribers.
    const subscribed = async () => {
      let sum = 0;
      for (const each of bases) {
        sum += (await getJson<{ subscribers: number }>(`${each}/stats`).catch(() => ({ subscribers: -1 }))).subscribers;
      }
      return sum;
    };
    const registered = Date.now() + 30_000;
    while ((await subscribed()) < options.subscribers && Date.now() < registered) await sleep(100);
    log(`${options.subscribers} subscribers connected`);

    // Load: the publisher on schedule, churn every second, RSS every few seconds.
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    const rssSamples: [number, number][] = [];
    // What the publisher was told, and what the server's history lists.
    const acknowledged: number[] = [firstId];
    const publishErrors: string[] = [];
    const stored: number[] = [firstId];
    // One read at a time; a read that fails (a loaded machine) is retried at the next tick.
    let reading: Promise<boolean> | undefined;
    const readHistory = (): Promise<boolean> => {
      reading ??= storedAfter(base, stored.at(-1) as number)
        .then((ids) => {
          stored.push(...ids);
          return true;
        })
        .catch(() => false)
        .finally(() => {
          reading = undefined;
        });
      return reading;
    };
    const sampleRss = () => rssSamples.push([elapsed(), rssBytes(pids)]);
    sampleRss();
    intervals.push(setInterval(sampleRss, RSS_SAMPLE_MS));
    intervals.push(setInterval(readHistory, 1_000));
    const perChurn = Math.max(1, Math.round(churners.length * options.churnPerSecond));
    let reconnections = 0;
    intervals.push(
      setInterval(() => {
        const present = churners.filter((subscriber) => subscriber.connected && subscriber.last !== undefined);
        for (let k = 0; k < perChurn && present.length > 0; k++) {
          const [subscriber] = present.splice(Math.floor(Math.random() * present.length), 1);
          subscriber?.drop();
          if (subscriber) comeBack(subscriber);
          reconnections++;
        }
      }, 1_000),
    );
    if (options.progressEverySeconds) {
      intervals.push(
        setInterval(() => {
          const rss = rssSamples.at(-1)?.[1] ?? 0;
          log(`${elapsed().toFixed(0)} s: ${stored.length - 1} published, RSS ${(rss / 2 ** 20).toFixed(1)} MiB`);
        }, options.progressEverySeconds * 1000),
      );
    }

    const total = Math.round(durationSeconds * messagesPerSecond);
    const sends: Promise<void>[] = [];
    for (let seq = 1; seq <= total; seq++) {
      const wait = (seq * 1000) / messagesPerSecond - (performance.now() - started);
      if (wait > 0) await sleep(wait);
      sends.push(
        publish(bases[seq % bases.length] as string, seq).then((id) => {
          if (typeof id === "string") publishErrors.push(id);
          else acknowledged.push(id);
        }),
      );
    }
    await Promise.all(sends);
    const publishedInSeconds = elapsed();
    for (const timer of intervals) clearInterval(timer);
    sampleRss();
    while (reading !== undefined) await reading;
    for (let attempt = 0; attempt < 5 && !(await readHistory()); attempt++) await sleep(1_000);
    const published = stored;
    const storedSet = new Set(stored);
    const unlisted = acknowledged.filter((id) => !storedSet.has(id)).length;
    log(`published ${published.length - 1} messages; waiting for every subscriber to catch up`);

    // Everyone away comes back, and everyone catches up to the last id (or 30 s pass).
    const lastId = published.at(-1) as number;
    const caughtUp = Date.now() + 30_000;
    while (
      (reconnectQueue.size > 0 || subscribers.some((subscriber) => subscriber.last !== lastId)) &&
      Date.now() < caughtUp
    ) {
      await sleep(100);
    }

    // Medians of about five samples each, so one sample taken mid-collection does not decide.
    const atEnd = rssSamples.filter(([t]) => t >= durationSeconds - 10).map(([, rss]) => rss);
    const afterWarmup = rssSamples
      .filter(([t]) => t >= warmupSeconds - 5 && t <= warmupSeconds + 5)
      .map(([, rss]) => rss);

    for (const subscriber of subscribers) subscriber.drop();
    let activeStreams = Number.NaN;
    const closed = Date.now() + 30_000;
    do {
      await sleep(200);
      activeStreams = 0;
      for (const url of urls) {
        activeStreams += (
          await getJson<{ activeStreams: number }>(`${url}/api/stats`).catch(() => ({ activeStreams: -1 }))
        ).activeStreams;
      }
    } while (activeStreams !== 0 && Date.now() < closed);

    const rssAfterWarmup = median(afterWarmup);
    const rssAtEnd = median(atEnd);
    const result: SoakResult = {
      runtime,
      backend: redis === undefined ? "memory" : "redis",
      processes: kinds.length,
      version: kinds.map(runtimeVersion).join(" + ") + (redis === undefined ? "" : ` on ${await redisVersion(redis)}`),
      serverFlags: [
        ...Object.entries(settings).map(([name, value]) => `${name}=${value}`),
        ...(kinds.includes("node") && nodeHeapMb > 0 ? [`--max-old-space-size=${nodeHeapMb}`] : []),
      ].join(" "),
      durationSeconds,
      warmupSeconds,
      subscribers: options.subscribers,
      stayers: stayers.length,
      churners: churners.length,
      messagesPerSecond,
      publishedInSeconds,
      published: published.length,
      publishErrors,
      acknowledgedButNotListed: unlisted,
      deliveredEvents: subscribers.reduce((sum, subscriber) => sum + subscriber.count, 0),
      reconnections,
      serverCloses: subscribers.reduce((sum, subscriber) => sum + subscriber.serverCloses, 0),
      rssAfterWarmup,
      rssAtEnd,
      rssPeak: Math.max(...rssSamples.map(([, rss]) => rss)),
      rssSamples: rssSamples.map(([t, rss]) => ({ seconds: Math.round(t * 10) / 10, rss })),
      activeStreamsAfterClose: activeStreams,
      checks: [],
      passed: false,
    };
    result.checks = checks(result, published, stayers, churners, options.rssTolerance ?? RSS_TOLERANCE);
    result.passed = result.checks.every((check) => check.passed);
    return result;
  } finally {
    for (const timer of intervals) clearInterval(timer);
    for (const timer of comebacks) clearTimeout(timer);
    for (const subscriber of subscribers) subscriber.drop();
    await Promise.all(children.map(({ child }) => stopGroup(child)));
    await redis?.dispose();
  }
}

async function redisVersion(redis: RunningRedis): Promise<string> {
  const info = String(await redis.command("INFO", "server"));
  return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? "?"}`;
}

/**
 * Did `subscriber` see exactly `expected` (sorted), once each and in order, over all its
 * connections? Its ids always increased, it has as many as expected, starting and ending at the
 * same ids, and with the same sum: a missing id and a stray one cannot both hide.
 */
function sawEverything(subscriber: SoakSubscriber, expected: number[], offsetSum: number): boolean {
  return (
    subscriber.notIncreasing === 0 &&
    subscriber.first === expected[0] &&
    subscriber.last === expected.at(-1) &&
    subscriber.count === expected.length &&
    subscriber.offsetSum === offsetSum
  );
}

function checks(
  result: SoakResult,
  published: number[],
  stayers: SoakSubscriber[],
  churners: SoakSubscriber[],
  rssTolerance: number,
): Check[] {
  // The first message went out before anyone subscribed: subscribers start at the second, and
  // count ids as offsets from the first.
  const base = published[0] as number;
  const expected = published.slice(1);
  const expectedSum = expected.reduce((sum, id) => sum + (id - base), 0);
  const index = new Map(published.map((id, i) => [id, i]));
  const incomplete = (group: SoakSubscriber[]) =>
    group.filter((subscriber) => !sawEverything(subscriber, expected, expectedSum));
  const describe = (subscriber: SoakSubscriber) =>
    `first ${subscriber.first}, last ${subscriber.last}, ${subscriber.count} ids, ${subscriber.notIncreasing} not increasing`;

  const staying = incomplete(stayers);
  const churning = incomplete(churners);
  const resumes = churners.flatMap((subscriber) => subscriber.resumes);
  const badResumes = resumes.filter(
    (resume) => resume.first !== undefined && index.get(resume.first) !== (index.get(resume.after) ?? -2) + 1,
  );
  const named = [...stayers, ...churners].reduce((sum, subscriber) => sum + subscriber.namedEvents, 0);
  const drift = (result.rssAtEnd - result.rssAfterWarmup) / result.rssAfterWarmup;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return [
    {
      name: "every publish answered 201, and listed in the history",
      passed: result.publishErrors.length === 0 && result.acknowledgedButNotListed === 0,
      detail:
        `${published.length} stored, ${result.publishErrors.length} POSTs failed` +
        (result.publishErrors.length > 0 ? ` (${result.publishErrors[0]})` : "") +
        `, ${result.acknowledgedButNotListed} acknowledged but not listed`,
    },
    {
      name: "subscribers connected throughout saw every id once, in order",
      passed: staying.length === 0,
      detail:
        staying.length === 0
          ? `${stayers.length} of ${stayers.length}, ${expected.length} ids each`
          : `${staying.length} of ${stayers.length} did not, e.g. ${describe(staying[0] as SoakSubscriber)}`,
    },
    {
      name: "reconnecting subscribers saw every id once, in order",
      passed: churning.length === 0,
      detail:
        churning.length === 0
          ? `${churners.length} of ${churners.length} over all their connections`
          : `${churning.length} of ${churners.length} did not, e.g. ${describe(churning[0] as SoakSubscriber)}`,
    },
    {
      name: "every resumption caught up from the next id",
      passed: badResumes.length === 0 && resumes.length > 0,
      detail: `${resumes.length - badResumes.length} of ${resumes.length} resumptions`,
    },
    {
      name: "no subscriber dropped by the server, no replay truncated",
      passed: result.serverCloses === 0 && named === 0,
      detail: `${result.serverCloses} closed by the server, ${named} history-truncated events`,
    },
    {
      name: `RSS at the end within ${rssTolerance * 100}% of RSS after warm-up`,
      passed: Math.abs(drift) <= rssTolerance,
      detail: `${mib(result.rssAfterWarmup)} → ${mib(result.rssAtEnd)} (${drift >= 0 ? "+" : ""}${(drift * 100).toFixed(1)}%)`,
    },
    {
      name: "activeStreams back to 0 after every subscriber left",
      passed: result.activeStreamsAfterClose === 0,
      detail: `${result.activeStreamsAfterClose}`,
    },
  ];
}

export interface SoakRun {
  started: string;
  command: string;
  machine: string;
  results: SoakResult[];
}

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, loopback`;
}

async function main() {
  const args = new Map(
    process.argv.slice(2).map((arg) => {
      const [name, value] = arg.replace(/^--/, "").split("=");
      return [name as string, value ?? "true"];
    }),
  );
  const durationSeconds = Number(args.get("duration") ?? 600);
  const subscribers = Number(args.get("subscribers") ?? 2000);
  const runtimes = (args.get("runtimes") ?? "node,bun").split(",") as SoakRuntime[];
  const messagesPerSecond = Number(args.get("rate") ?? 50);
  const backends = (args.get("backends") ?? "memory,redis").split(",");
  for (const backend of backends) {
    if (backend !== "memory" && backend !== "redis")
      throw new Error(`--backends: memory and redis only, not ${backend}`);
  }
  for (const runtime of runtimes) {
    if (runtime !== "node" && runtime !== "bun") throw new Error(`--runtimes: node and bun only, not ${runtime}`);
  }
  if (!(durationSeconds >= 10) || !(subscribers >= 2) || !(messagesPerSecond > 0)) {
    throw new Error("--duration must be at least 10 s, --subscribers at least 2, --rate above 0");
  }
  const run: SoakRun = {
    started: new Date().toISOString(),
    command: `npm run soak${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine: machine(),
    results: [],
  };
  // One run per runtime on its own (in memory), then one with a process of each runtime on Redis.
  const plans: { runtime: SoakRuntime; redisServers?: SoakRuntime[] }[] = [
    ...(backends.includes("memory") ? runtimes.map((runtime) => ({ runtime })) : []),
    ...(backends.includes("redis") ? [{ runtime: runtimes[0] as SoakRuntime, redisServers: runtimes }] : []),
  ];
  for (const plan of plans) {
    const result = await soak({
      ...plan,
      durationSeconds,
      subscribers,
      messagesPerSecond,
      churnPerSecond: Number(args.get("churn") ?? 0.02),
      // A minute, or a third of a short run: by then history is full and the heap has settled.
      warmupSeconds: Math.min(60, Math.round(durationSeconds / 3)),
      nodeHeapMb: args.has("node-heap-mb") ? Number(args.get("node-heap-mb")) : undefined,
      progressEverySeconds: 30,
    });
    run.results.push(result);
    for (const check of result.checks) {
      console.log(`${check.passed ? "pass" : "FAIL"}  ${result.version}  ${check.name}: ${check.detail}`);
    }
    writeSoakReport(run);
  }
  if (!run.results.every((result) => result.passed)) process.exitCode = 1;
}

if (import.meta.filename === process.argv[1]) await main();
