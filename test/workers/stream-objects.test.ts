/**
 * Durable streams' objects inside workerd (vitest's miniflare): what the conformance suite does not
 * look at on this backend. Forks live in other objects than their sources, so a deletion's cascade up
 * a fork chain crosses objects; a fork nobody asks for again still releases its source when its TTL
 * passes (the object's alarm), and so does a fork whose creation failed after its source counted it;
 * and a reader held by a Worker request hears of a deletion over its
 * socket, and lets go of the socket when its response ends.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { encodeEntries, jsonAppend } from "../../src/ai/answer-appends.ts";
import { DurableObjectLog } from "../../src/hub/durable-object/durable-object-log.ts";
import { eventually, readEvents } from "../support/sse-reader.ts";

const BASE = "http://edge-sse.test";
const fetchApp = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`${BASE}${path}`, init));

let streams = 0;
const newName = (label: string) => `objects-${label}-${++streams}-${Date.now()}`;
const path = (name: string) => `/v1/stream/${name}`;

async function status(name: string, init?: RequestInit): Promise<number> {
  const response = await fetchApp(path(name), init);
  await response.arrayBuffer();
  return response.status;
}

const create = (name: string, headers: Record<string, string> = {}, body?: string) =>
  status(name, { method: "PUT", headers: { "content-type": "text/plain", ...headers }, body });

describe("durable streams' objects", () => {
  it("removes a deleted fork chain up to its deleted root once the last fork goes, across objects", async () => {
    const [root, middle, leaf] = [newName("root"), newName("middle"), newName("leaf")];
    expect(await create(root, {}, "from the root")).toBe(201);
    expect(await create(middle, { "stream-forked-from": path(root) })).toBe(201);
    expect(await create(leaf, { "stream-forked-from": path(middle) })).toBe(201);

    expect(await status(root, { method: "DELETE" })).toBe(204);
    expect(await status(middle, { method: "DELETE" })).toBe(204);
    // Soft-deleted while a fork lives: gone, and the name stays taken.
    expect(await status(root)).toBe(410);
    expect(await status(middle)).toBe(410);
    expect(await create(root)).toBe(409);
    const read = await fetchApp(`${path(leaf)}?offset=-1`);
    expect(await read.text()).toBe("from the root");

    expect(await status(leaf, { method: "DELETE" })).toBe(204);
    // The cascade ran before the leaf's DELETE was answered.
    expect(await status(leaf)).toBe(404);
    expect(await status(middle)).toBe(404);
    expect(await status(root)).toBe(404);
    expect(await create(root)).toBe(201);
  });

  it("releases a deleted source when its only fork's TTL passes, with nobody asking for the fork", async () => {
    const [source, fork] = [newName("source"), newName("ttl-fork")];
    expect(await create(source, {}, "kept")).toBe(201);
    expect(await create(fork, { "stream-forked-from": path(source), "stream-ttl": "1" })).toBe(201);
    expect(await status(source, { method: "DELETE" })).toBe(204);
    expect(await status(source)).toBe(410);
    // Only the fork's alarm can remove it now: the fork is never read again.
    expect(await eventually(() => status(source), 404)).toBe(404);
  });

  it("gives its source's count back when a fork's creation fails after the source counted it", async () => {
    const [source, fork] = [newName("source"), newName("failed-fork")];
    expect(await create(source, {}, "kept")).toBe(201);
    // The fork's object fails its first write, after the source counted it (a crash there).
    await runInDurableObject(env.STREAMS.get(env.STREAMS.idFromName(fork)), (instance) => {
      (instance as unknown as { store: { write: () => never } }).store.write = () => {
        throw new Error("the fork's first write failed (a test)");
      };
    });
    const failed = await fetchApp(path(fork), {
      method: "PUT",
      headers: { "content-type": "text/plain", "stream-forked-from": path(source) },
    });
    expect(failed.status).toBe(503);
    expect(await failed.json()).toMatchObject({ error: { code: "backend_unavailable" } });
    expect(await status(fork)).toBe(404);
    // Deleted, the source is held only by the fork that never was, until the fork's alarm gives the
    // count back: then it goes, and its name is free.
    expect(await status(source, { method: "DELETE" })).toBe(204);
    expect(await eventually(() => status(source), 404)).toBe(404);
    expect(await create(source)).toBe(201);
  });

  it("ends an SSE reader when its stream is deleted, and closes the reader's socket to the object", async () => {
    const name = newName("watched");
    expect(await create(name)).toBe(201);
    const reader = readEvents(await fetchApp(`${path(name)}?offset=-1&live=sse`));
    expect((await reader.next()).event).toBe("control");
    const object = env.STREAMS.get(env.STREAMS.idFromName(name));
    const sockets = () => runInDurableObject(object, (_instance, state) => state.getWebSockets().length);
    expect(await eventually(sockets, 1)).toBe(1);

    expect(await status(name, { method: "POST", headers: { "content-type": "text/plain" }, body: "hello" })).toBe(204);
    expect(await reader.next()).toMatchObject({ event: "data", data: "hello" });
    expect((await reader.next()).event).toBe("control");

    expect(await status(name, { method: "DELETE" })).toBe(204);
    await expect(reader.next()).rejects.toThrow("stream ended");
    expect(await eventually(sockets, 0)).toBe(0);
  });

  it("sends appends to an SSE reader with their entries, without a read of the object per append", async () => {
    const name = newName("told");
    expect(await create(name)).toBe(201);
    const object = env.STREAMS.get(env.STREAMS.idFromName(name));
    // Counted on the class: RPC calls find the method there, not on the instance.
    let reads = 0;
    const restore = await runInDurableObject(object, (instance) => {
      const prototype = Object.getPrototypeOf(instance) as typeof instance;
      const read = prototype.read;
      prototype.read = function (this: typeof instance, ...args: Parameters<typeof read>) {
        if (this === instance) reads++;
        return read.apply(this, args);
      };
      return () => {
        prototype.read = read;
      };
    });
    const reader = readEvents(await fetchApp(`${path(name)}?offset=-1&live=sse`));
    expect((await reader.next()).event).toBe("control");
    const sockets = () => runInDurableObject(object, (_instance, state) => state.getWebSockets().length);
    expect(await eventually(sockets, 1)).toBe(1);
    // The route's and the reader's first reads.
    const before = reads;
    expect(before).toBeGreaterThan(0);

    const APPENDS = 20;
    let text = "";
    for (let i = 0; i < APPENDS; i++) {
      const body = `${i};`;
      expect(await status(name, { method: "POST", headers: { "content-type": "text/plain" }, body })).toBe(204);
      while (!text.endsWith(body)) {
        const event = await reader.next();
        if (event.event === "data") text += event.data;
      }
    }
    expect(text).toBe(Array.from({ length: APPENDS }, (_, i) => `${i};`).join(""));
    expect(reads).toBe(before);
    restore();
    await reader.cancel();
  });

  it("stores entries that are views into one buffer (an answer's append) as exactly their own bytes", async () => {
    const log = new DurableObjectLog(env);
    const name = newName("views");
    const texts = ['{"a":1}', '{"b":"é👋"}', '{"c":"日本"}'];
    const created = await log.create(name, {
      contentType: "application/json",
      ttlSeconds: null,
      expiresAt: null,
      closed: false,
      entries: [],
      fork: null,
    });
    expect(created.kind).toBe("created");
    const entries = encodeEntries(texts);
    expect(entries[1]?.byteOffset).toBeGreaterThan(0);
    expect((await log.append(name, jsonAppend(entries, false))).kind).toBe("appended");
    const read = await log.read(name, 0, 1 << 20);
    expect(read.kind === "found" && read.entries.map((entry) => new TextDecoder().decode(entry))).toEqual(texts);
  });
});
