/**
 * A small Durable Streams client for fault tests, as the protocol's clients behave: an idempotent
 * producer that sends an append again (same Producer-Seq) until it is answered 2xx, a catch-up
 * reader of a whole stream, and an SSE reader that opens a new response from its last offset when
 * one ends or fails. Items are JSON values `{ producer, seq }`.
 */
import { expect } from "vitest";
import { PATIENCE_MS, readEvents } from "./sse-reader.ts";

export interface Item {
  producer: number;
  seq: number;
}

export interface Retrying {
  /** Resolves when it is worth trying again after a failure (say, once a killed server is back). */
  again(): Promise<void>;
}

/** Waits a little between tries: a server that is restarting refuses connections at once. */
export const soon: Retrying = { again: () => new Promise((resolve) => setTimeout(resolve, 50)) };

/**
 * Appends `{ producer, seq }` as producer `producer` until it is answered 2xx; returns how many
 * tries failed (a 5xx or a dropped connection; anything else fails the test).
 */
export async function appendUntilAccepted(
  url: () => string,
  producer: number,
  seq: number,
  retrying: Retrying = soon,
): Promise<number> {
  const deadline = Date.now() + PATIENCE_MS;
  let failures = 0;
  for (;;) {
    try {
      const response = await fetch(url(), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "producer-id": `producer-${producer}`,
          "producer-epoch": "0",
          "producer-seq": String(seq),
        },
        body: JSON.stringify({ producer, seq } satisfies Item),
      });
      if (response.ok) {
        await response.arrayBuffer();
        return failures;
      }
      // Only a failure of the backend may be answered otherwise, as such; anything else is a bug.
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: "backend_unavailable" } });
    } catch {
      // The connection dropped: send it again.
    }
    failures++;
    if (Date.now() > deadline) throw new Error(`producer ${producer}'s append ${seq} never succeeded`);
    await retrying.again();
  }
}

/** The whole stream by catch-up reads, page after page. */
export async function readAll(url: string): Promise<Item[]> {
  const items: Item[] = [];
  let offset = "-1";
  for (;;) {
    const response = await fetch(`${url}?offset=${offset}`);
    expect(response.status).toBe(200);
    items.push(...((await response.json()) as Item[]));
    offset = response.headers.get("stream-next-offset") as string;
    if (response.headers.get("stream-up-to-date") === "true") return items;
  }
}

/**
 * An SSE reader of the stream: it collects every data event's items and, should its response end
 * or fail, opens a new one from the last control event's offset.
 */
export function followSse(url: () => string, retrying: Retrying = soon) {
  const items: Item[] = [];
  let offset = "-1";
  let stopped = false;
  let opens = 0;
  const controller = new AbortController();
  const run = async () => {
    while (!stopped) {
      try {
        const response = await fetch(`${url()}?offset=${offset}&live=sse`, { signal: controller.signal });
        expect(response.status).toBe(200);
        opens++;
        const events = readEvents(response);
        for (;;) {
          const event = await events.next();
          if (event.event === "data") items.push(...(JSON.parse(event.data) as Item[]));
          if (event.event === "control") {
            offset = (JSON.parse(event.data) as { streamNextOffset: string }).streamNextOffset;
          }
        }
      } catch {
        // Ended or failed: open a new one from the last offset.
      }
      if (!stopped) await retrying.again();
    }
  };
  const running = run();
  return {
    /** Resolves with what was seen once it has `count` items (or more), or after PATIENCE_MS. */
    async until(count: number): Promise<Item[]> {
      const deadline = Date.now() + PATIENCE_MS;
      while (items.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      return [...items];
    },
    /** How many responses it opened. */
    opens: () => opens,
    stop() {
      stopped = true;
      controller.abort();
      return running;
    },
  };
}

/** Checks that `stored` holds each producer's appends 0..appends-1 exactly once, in order. */
export function expectEveryAppendOnceInOrder(stored: Item[], producers: number, appends: number): void {
  expect(stored).toHaveLength(producers * appends);
  for (let producer = 0; producer < producers; producer++) {
    const seqs = stored.filter((item) => item.producer === producer).map((item) => item.seq);
    expect(seqs).toEqual(Array.from({ length: appends }, (_, seq) => seq));
  }
}
