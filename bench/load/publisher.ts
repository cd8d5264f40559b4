/**
 * Publishes benchmark messages over keep-alive HTTP connections. Each payload carries its
 * sequence number and send time (`seq=<n> t=<ms>`), which subscribers turn into latency.
 */
import { Agent, request } from "node:http";
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
  private readonly agent: Agent;
  private seq = 0;
  failures = 0;

  constructor(
    private readonly target: PublishTarget,
    connections: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: connections });
  }

  /** Sends one message and resolves when the server has answered. */
  publish(): Promise<void> {
    const seq = ++this.seq;
    const payload = `seq=${seq} t=${now().toFixed(3)}`;
    const { type, body } = this.target.body(payload);
    const ports = this.target.ports ?? [this.target.port];
    return new Promise((resolve) => {
      const req = request(
        {
          host: this.target.host,
          port: ports[seq % ports.length],
          path: this.target.path,
          method: "POST",
          agent: this.agent,
          headers: { "content-type": type, "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          if (res.statusCode === undefined || res.statusCode >= 300) this.failures++;
          res.resume();
          res.on("end", resolve);
        },
      );
      req.on("error", () => {
        this.failures++;
        resolve();
      });
      req.end(body);
    });
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
    this.agent.destroy();
  }
}
