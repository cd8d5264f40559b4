/**
 * N SSE subscribers on raw sockets in one process, kept cheap: every socket only counts
 * `data:` fields with Buffer.indexOf (native code, no string per event); a sample of sockets also
 * reads each event's send time to measure publish-to-receive latency. Every benchmark event has
 * exactly one one-line `data:` field, and `data:` occurs nowhere else on the wire.
 *
 * Where one event may carry several messages, or the stream has events of its own (a durable
 * stream's JSON batches and `event: control`), `marker` counts a text each message carries once
 * instead, and the sampled sockets time every message of a `data:` line.
 */
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { ChunkedBody } from "./chunked-body.ts";

// Without the space: the spec makes it optional, and better-sse writes `data:<payload>`.
const DATA_FIELD = "data:";
// The payload carries its send time as `t=<ms since the epoch, fractional>`.
const SEND_TIME = /t=(\d+(?:\.\d+)?)/;
const SEND_TIMES = /t=(\d+(?:\.\d+)?)/g;

export interface PoolOptions {
  host: string;
  port: number;
  /**
   * Several server processes: the subscribers are split over them in equal blocks (not in turn, so
   * the sampled ones, every `sampleEvery`th, are on every process).
   */
  ports?: number[];
  path: string;
  count: number;
  /** One socket in this many records latencies. */
  sampleEvery: number;
  /**
   * Connections waiting for their response headers at once while ramping up (default 256): the
   * next one opens when one gets its headers, so the ramp goes at the server's pace.
   */
  connectBatch?: number;
  /** Counted once per message instead of `data:` (see above); it must not occur in the headers. */
  marker?: string;
  /** The request subscriber `index` sends (default: `GET path`), e.g. a POST that starts what it reads. */
  request?(index: number, host: string, port: number): string;
}

export const now = () => performance.timeOrigin + performance.now();

class Subscriber {
  headersDone = false;
  events = 0;
  private head = "";
  // Unsampled: the last bytes of the previous read, to catch a "data:" split across two reads.
  private tail: Buffer = Buffer.alloc(0);
  // Sampled: the unfinished last line of the previous read.
  private partialLine = "";
  // Set when the response uses chunked transfer coding.
  private chunked: ChunkedBody | undefined;

  constructor(
    readonly socket: Socket,
    private readonly pool: SubscriberPool,
    private readonly sampled: boolean,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer) {
    if (!this.headersDone) {
      this.head += chunk.toString("latin1");
      const end = this.head.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!this.head.startsWith("HTTP/1.1 200")) this.pool.failed++;
      const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(this.head.slice(0, end));
      this.chunked = chunked ? new ChunkedBody((piece) => this.onBody(piece)) : undefined;
      this.headersDone = true;
      this.pool.onOpen();
      chunk = Buffer.from(this.head.slice(end + 4), "latin1");
      this.head = "";
    }
    if (this.chunked) this.chunked.feed(chunk);
    else this.onBody(chunk);
  }

  private onBody(body: Buffer) {
    const count = this.sampled ? this.readLines(body) : this.countMarkers(body, this.pool.marker);
    if (count > 0) {
      this.events += count;
      this.pool.onEvents(count);
    }
  }

  private countMarkers(chunk: Buffer, marker: Buffer): number {
    let count = 0;
    // Neither "data:" nor a message marker overlaps itself, so one found across the joint is one not yet counted.
    if (this.tail.length > 0 && Buffer.concat([this.tail, chunk.subarray(0, marker.length - 1)]).includes(marker)) {
      count++;
    }
    let at = chunk.indexOf(marker);
    while (at >= 0) {
      count++;
      at = chunk.indexOf(marker, at + marker.length);
    }
    this.tail = chunk.subarray(Math.max(0, chunk.length - (marker.length - 1)));
    return count;
  }

  private readLines(chunk: Buffer): number {
    const received = now();
    const lines = (this.partialLine + chunk.toString("latin1")).split("\n");
    this.partialLine = lines.pop() ?? "";
    let count = 0;
    for (const line of lines) {
      if (!line.startsWith(DATA_FIELD)) continue;
      if (this.pool.markerText === undefined) {
        count++;
        const sent = SEND_TIME.exec(line);
        if (sent) this.pool.recordLatency(received, Number(sent[1]));
        continue;
      }
      count += line.split(this.pool.markerText).length - 1;
      for (const sent of line.matchAll(SEND_TIMES)) this.pool.recordLatency(received, Number(sent[1]));
    }
    return count;
  }
}

export class SubscriberPool {
  readonly subscribers: Subscriber[] = [];
  readonly latencies: number[] = [];
  opened = 0;
  failed = 0;
  /** Socket errors by code (ECONNRESET, ...), for a ramp that did not open every stream. */
  readonly errors = new Map<string, number>();
  received = 0;
  lastEventAt = 0;
  /** Latencies are recorded only for messages sent at or after this time (ms since the epoch). */
  sentAfter = 0;
  readonly marker: Buffer;
  readonly markerText: string | undefined;
  private waitingOpen: (() => void) | undefined;
  /** While ramping up: opens the next connection (one got its headers, or failed). */
  private openNext: (() => void) | undefined;

  constructor(private readonly options: PoolOptions) {
    this.markerText = options.marker;
    this.marker = Buffer.from(options.marker ?? DATA_FIELD);
  }

  recordLatency(received: number, sent: number) {
    if (sent >= this.sentAfter) this.latencies.push(received - sent);
  }

  onOpen() {
    this.opened++;
    this.openNext?.();
    if (this.opened === this.options.count) this.waitingOpen?.();
  }

  onEvents(count: number) {
    this.received += count;
    this.lastEventAt = now();
  }

  /**
   * Opens every connection and resolves when all have their response headers; rejects at the first
   * socket error (a ramp that lost a connection failed) or after `timeoutMs`. Paced by the headers:
   * at most `connectBatch` connections wait for theirs at once. Batches that waited only for the
   * TCP connect could pile thousands of requests on a server still answering the earlier ones (on
   * workerd, runs at N = 5000 saw connections reset: issue 18).
   */
  async open(timeoutMs = 120_000): Promise<void> {
    const { host, path, count, sampleEvery } = this.options;
    const ports = this.options.ports ?? [this.options.port];
    const window = this.options.connectBatch ?? 256;
    const requests = ports.map((port) =>
      Buffer.from(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n`,
      ),
    );
    const requestOf = (index: number, server: number) =>
      this.options.request
        ? Buffer.from(this.options.request(index, host, ports[server] as number))
        : (requests[server] as Buffer);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.waitingOpen = resolve;
        timer = setTimeout(
          () =>
            reject(new Error(`only ${this.opened} of ${count} streams opened in ${timeoutMs} ms${this.failures()}`)),
          timeoutMs,
        );
        let next = 0;
        this.openNext = () => {
          if (next >= count) return;
          const j = next++;
          const server = Math.floor((j * ports.length) / count);
          const socket = connect({ host, port: ports[server] as number }, () => {
            socket.write(requestOf(j, server));
          });
          socket.setNoDelay(true);
          socket.on("error", (error: NodeJS.ErrnoException) => {
            this.failed++;
            const code = error.code ?? error.message;
            this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
            reject(new Error(`${this.opened} of ${count} streams opened, then a socket failed${this.failures()}`));
          });
          this.subscribers.push(new Subscriber(socket, this, j % sampleEvery === 0));
        };
        for (let i = 0; i < Math.min(window, count); i++) this.openNext();
      });
    } finally {
      clearTimeout(timer);
      this.openNext = undefined;
    }
  }

  /** The socket errors seen, for an error message: "" when there were none. */
  private failures(): string {
    if (this.errors.size === 0) return "";
    return ` (socket errors: ${[...this.errors].map(([code, n]) => `${n} ${code}`).join(", ")})`;
  }

  /** Resolves when `total` events have arrived, or when none arrived for `idleMs`. */
  async waitForEvents(total: number, idleMs = 5_000): Promise<void> {
    let seen = this.received;
    let lastProgress = now();
    while (this.received < total) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (this.received !== seen) {
        seen = this.received;
        lastProgress = now();
      } else if (now() - lastProgress > idleMs) {
        return;
      }
    }
  }

  resetCounters() {
    this.received = 0;
    this.latencies.length = 0;
  }

  close() {
    for (const subscriber of this.subscribers) subscriber.socket.destroy();
  }
}
