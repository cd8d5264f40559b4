/**
 * Durability of the Durable Object backend under a crash: `wrangler dev` with its storage in a
 * temporary directory is killed with SIGKILL (the whole process group: npm, wrangler, workerd)
 * in the middle of a burst of concurrent publishes, then started again on the same storage.
 * Every message acknowledged with 201 must be there, with its id and text; the ones in flight at
 * the kill may or may not be. See docs/reliability.md ("Crashes and durability").
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Message } from "../../src/app/message.ts";
import { type RunningServer, startServer } from "../support/server.ts";

const MESSAGES = 400;
const PUBLISHERS = 8;
// Killed once this many are acknowledged: well inside the burst, with a publish in flight on each sender.
const KILL_AFTER = 150;

describe("a crash of wrangler dev (Durable Object storage)", () => {
  const servers: RunningServer[] = [];
  let storage: string | undefined;
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    if (storage) await rm(storage, { recursive: true, force: true });
  });

  it("keeps every message acknowledged with 201 before a kill -9 in the middle of a publish burst", async () => {
    storage = await mkdtemp(join(tmpdir(), "edge-sse-crash-"));
    const start = () =>
      startServer("workerd", { PUBLISH_RATE_LIMIT: "0" }, { args: ["--persist-to", storage as string] });
    const first = await start();
    servers.push(first);
    const channel = `${first.url}/api/channels/burst/messages`;

    const acknowledged: Message[] = [];
    let next = 0;
    let killed = false;
    await Promise.all(
      Array.from({ length: PUBLISHERS }, async () => {
        while (next < MESSAGES) {
          const text = `burst ${next++}`;
          let message: Message;
          try {
            const response = await fetch(channel, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ text }),
            });
            if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
            message = (await response.json()) as Message;
          } catch (error) {
            if (killed) return; // the server is gone: this one was never acknowledged
            throw error;
          }
          expect(message.text).toBe(text);
          acknowledged.push(message);
          if (acknowledged.length >= KILL_AFTER && !killed) {
            killed = true;
            first.signal("SIGKILL");
          }
        }
      }),
    );
    expect(killed).toBe(true);
    expect(await first.exited(10_000)).toBe(true);
    expect(acknowledged.length).toBeLessThan(MESSAGES);

    // The channel's object kept its SQLite file in our directory, not in wrangler's default one.
    const files = await readdir(storage, { recursive: true });
    expect(files.some((file) => file.endsWith(".sqlite"))).toBe(true);

    const second = await start();
    servers.push(second);
    const response = await fetch(`${second.url}/api/channels/burst/messages?after=0&limit=1000`);
    const { messages } = (await response.json()) as { messages: Message[] };
    const kept = new Map(messages.map((message) => [message.id, message]));
    for (const message of acknowledged) expect(kept.get(message.id)).toEqual(message);
    // Nothing else came back under those ids, and ids still only go up.
    expect(new Set(messages.map((message) => message.id)).size).toBe(messages.length);
    const answer = await fetch(`${second.url}/api/channels/burst/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "after the crash" }),
    });
    expect(answer.status).toBe(201);
    const after = (await answer.json()) as Message;
    expect(after.id).toBeGreaterThan(Math.max(...messages.map((message) => message.id)));
  });
});
