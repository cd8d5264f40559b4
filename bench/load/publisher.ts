/**
 * Publishes benchmark messages over keep-alive HTTP connections. Each payload carries its
 * sequence number and send time (`seq=<n> t=<ms>`), which subscribers turn into latency.
 *
 * Sent with undici (the client Node's own fetch is built on), not `node:http`: on this 2-core machine
 * the load client and the server share the CPU, and undici took 40 to 57 µs of client CPU per POST
 * where `node:http`'s request took about 65 (8 writers, Dec 7 2026), so more of the machine goes to
 * the server measured. The same client for every server.
 */
import { Pool } from "undici";
import { now } from "./subscribers.ts";

export interface PublishTarget {
  host: string;
  port: number;
  /** Several server processes: message k goes to `ports[k % ports.length]` instead of `port`. */
  ports?: number[];
  path: string;
  /** Turns a payload into the request body and its content type. */
  body(payload: string): { type: string; body: string };
}

export class Publisher {
  /** A pool of `connections` per server process, one request at a time on each. */
  private readonly pools: Pool[];
  private seq = 0;
  failures = 0;

  constructor(
    private readonly target: PublishTarget,
    connections: number,
  ) {
    const ports = target.ports ?? [target.port];
    this.pools = ports.map((port) => new Pool(`http://${target.host}:${port}`, { connections, pipelining: 1 }));
  }

  /** Sends one message and resolves when the server has answered (a failure is counted, never thrown). */
  async publish(): Promise<void> {
    const seq = ++this.seq;
    const payload = `seq=${seq} t=${now().toFixed(3)}`;
    const { type, body } = this.target.body(payload);
    const pool = this.pools[seq % this.pools.length] as Pool;
    try {
      const response = await pool.request({
        path: this.target.path,
        method: "POST",
        headers: { "content-type": type },
        body,
      });
      await response.body.dump();
      if (response.statusCode >= 300) this.failures++;
    } catch {
      this.failures++;
    }
  }

  /** `count` messages as fast as `concurrency` requests in flight allow. */
  async burst(count: number, concurrency: number): Promise<void> {
    let left = count;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left > 0) {
          left--;
          await this.publish();
        }
      }),
    );
  }

  /** `count` messages at `perSecond`, each sent on schedule whether or not the last was answered. */
  async steady(count: number, perSecond: number): Promise<void> {
    const start = now();
    const sent: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / perSecond;
      const wait = due - now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      sent.push(this.publish());
    }
    await Promise.all(sent);
  }

  close() {
    for (const pool of this.pools) void pool.destroy().catch(() => {});
  }
}
