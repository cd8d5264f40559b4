/**
 * The in-memory log and the shared rules it decides by: limits and bad requests change nothing,
 * expiry (on an injected clock), deletion while forks live, and what watchers are told.
 */
import { describe, expect, it } from "vitest";
import type { AppendRequest, CreateRequest, LogChange } from "../../src/hub/log.ts";
import { PAGE_BYTES } from "../../src/hub/memory/entry-pages.ts";
import { MemoryLog } from "../../src/hub/memory/memory-log.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const create = (overrides: Partial<CreateRequest> = {}): CreateRequest => ({
  contentType: "text/plain",
  ttlSeconds: null,
  expiresAt: null,
  closed: false,
  entries: [],
  fork: null,
  ...overrides,
});
const append = (text: string, overrides: Partial<AppendRequest> = {}): AppendRequest => ({
  entries: [bytes(text)],
  contentType: "text/plain",
  close: false,
  streamSeq: undefined,
  producer: undefined,
  ...overrides,
});

async function contentOf(log: MemoryLog, name: string): Promise<string> {
  const read = await log.read(name, 0, Number.MAX_SAFE_INTEGER);
  if (read.kind !== "found") throw new Error(read.kind);
  return read.entries.map((entry) => new TextDecoder().decode(entry)).join("");
}

describe("MemoryLog", () => {
  it("refuses an append past a stream's byte or append limit with too-large, and keeps the stream as it was", async () => {
    const log = new MemoryLog({ maxBytes: 10, maxEntries: 3 });
    await log.create("s", create());
    expect((await log.append("s", append("0123456789"))).kind).toBe("appended");
    expect(await log.append("s", append("x"))).toEqual({ kind: "too-large", message: expect.any(String) });
    expect(await contentOf(log, "s")).toBe("0123456789");

    await log.create("t", create());
    for (const text of ["a", "b", "c"]) await log.append("t", append(text));
    expect((await log.append("t", append("d"))).kind).toBe("too-large");
    expect(await contentOf(log, "t")).toBe("abc");
  });

  it("answers a stale producer epoch, a sequence gap and a content-type mismatch without storing anything", async () => {
    const log = new MemoryLog();
    await log.create("s", create());
    await log.append("s", append("a", { producer: { id: "p", epoch: 1, seq: 0 } }));
    expect(await log.append("s", append("x", { producer: { id: "p", epoch: 0, seq: 1 } }))).toEqual({
      kind: "stale-epoch",
      epoch: 1,
    });
    expect(await log.append("s", append("x", { producer: { id: "p", epoch: 1, seq: 5 } }))).toEqual({
      kind: "sequence-gap",
      expected: 1,
      received: 5,
    });
    expect((await log.append("s", append("x", { contentType: "application/json" }))).kind).toBe(
      "content-type-mismatch",
    );
    // A retry of what was stored is a success that stores nothing.
    const retry = await log.append("s", append("a", { producer: { id: "p", epoch: 1, seq: 0 } }));
    expect(retry).toMatchObject({ kind: "appended", stored: false, producerSeq: 0 });
    expect(await contentOf(log, "s")).toBe("a");
  });

  it("forgets a stream once its sliding TTL passes without a read or write, and a read keeps it alive", async () => {
    let now = 1_000_000;
    const log = new MemoryLog(undefined, () => now);
    await log.create("s", create({ ttlSeconds: 10 }));
    now += 9_000;
    expect((await log.read("s", 0, 100)).kind).toBe("found");
    now += 9_000;
    expect((await log.head("s")).kind).toBe("found"); // HEAD does not count as a read...
    now += 2_000;
    expect((await log.head("s")).kind).toBe("not-found"); // ...so the TTL ran from the read
  });

  it("keeps a deleted stream's name taken (gone) while a fork of it lives, and frees it with the fork", async () => {
    const log = new MemoryLog();
    await log.create("source", create({ entries: [bytes("abc")] }));
    const fork = await log.create("fork", create({ fork: { from: "source", position: null, subOffset: 0 } }));
    expect(fork.kind).toBe("created");
    expect(await log.delete("source")).toBe("deleted");
    expect((await log.head("source")).kind).toBe("gone");
    expect((await log.create("source", create())).kind).toBe("conflict");
    expect(await contentOf(log, "fork")).toBe("abc");
    expect(await log.delete("fork")).toBe("deleted");
    expect((await log.head("source")).kind).toBe("not-found");
  });

  it("tells watchers what was appended, from which position, and when the stream is deleted", async () => {
    const log = new MemoryLog();
    await log.create("s", create({ entries: [bytes("a")] }));
    const changes: LogChange[] = [];
    const stop = log.watch("s", (change) => changes.push(change));
    await log.append("s", append("b"));
    await log.append("s", { ...append(""), entries: [], close: true });
    await log.delete("s");
    stop();
    await log.create("s", create());
    expect(changes.map((change) => change.kind)).toEqual(["appended", "appended", "deleted"]);
    expect(changes[0]).toMatchObject({ from: 1, entries: [bytes("b")], record: { tail: 2 } });
    expect(changes[1]).toMatchObject({ from: 2, entries: [], record: { closed: true } });
  });
});

describe("MemoryLog's entry pages", () => {
  it("keeps its own copy of each entry, packed with the stream's others: a writer's buffer is neither kept nor seen", async () => {
    const log = new MemoryLog();
    await log.create("s", create({ entries: [bytes("first")] }));
    const written = bytes("second");
    await log.append("s", { ...append(""), entries: [written, bytes("third")] });
    written.fill(0x78); // the writer reuses its buffer
    const read = await log.read("s", 0, Number.MAX_SAFE_INTEGER);
    if (read.kind !== "found") throw new Error(read.kind);
    expect(read.entries.map((entry) => new TextDecoder().decode(entry))).toEqual(["first", "second", "third"]);
    const [first, second, third] = read.entries as [Uint8Array, Uint8Array, Uint8Array];
    expect(second.buffer).not.toBe(written.buffer);
    expect(second.buffer).toBe(first.buffer);
    expect(third.buffer).toBe(first.buffer);
  });

  it("gives each stream pages of its own, and keeps an entry of a page's size or more as it came", async () => {
    const log = new MemoryLog();
    await log.create("a", create({ entries: [bytes("a")] }));
    await log.create("b", create({ entries: [bytes("b")] }));
    const large = new Uint8Array(PAGE_BYTES).fill(0x6c);
    await log.append("b", { ...append(""), entries: [large] });
    const [a, b] = await Promise.all([log.read("a", 0, Infinity), log.read("b", 0, Infinity)]);
    if (a.kind !== "found" || b.kind !== "found") throw new Error("not found");
    expect(a.entries[0]?.buffer).not.toBe(b.entries[0]?.buffer);
    expect(b.entries[1]).toBe(large);
  });

  it("grows a stream's pages as it grows, and an entry never straddles two", async () => {
    const log = new MemoryLog();
    await log.create("s", create());
    const texts = Array.from({ length: 2_000 }, (_, i) => `{"type":"text-delta","id":"t","delta":"${i} "}`);
    for (const text of texts) await log.append("s", append(text));
    const read = await log.read("s", 0, Number.MAX_SAFE_INTEGER);
    if (read.kind !== "found") throw new Error(read.kind);
    expect(read.entries.map((entry) => new TextDecoder().decode(entry))).toEqual(texts);
    const pages = new Set(read.entries.map((entry) => entry.buffer));
    // 2,000 entries of about 45 bytes: a few 16 KiB pages after the small first ones, not one per entry.
    expect(pages.size).toBeLessThan(20);
    for (const page of pages) expect(page.byteLength).toBeLessThanOrEqual(PAGE_BYTES);
  });
});
