/**
 * Channels stored by the version before channels were streams of the log: a counter
 * `<prefix>:{<name>}:id` and a Redis stream `<prefix>:{<name>}:history` (entry ids `<event id>-0`,
 * the event's JSON in field `m`; keys.ts `legacy`). On first use of a channel that has no record (a
 * publish, a history read) they move into the channel's stream once, keeping their ids, so a
 * client's Last-Event-ID stays valid.
 *
 * Not inside the publish script: the old keys are tagged `{<name>}`, the stream's
 * `{channels/<name>}`, two slots on Redis Cluster. Instead the old keys are read, then one checked
 * write (checked-write.ts) creates the record and entries only if there is still no record (another
 * process may have migrated meanwhile), then the old keys are deleted. A crash between the last two
 * leaves old keys that nobody reads while the record lives. Every process of the earlier version
 * must be stopped first: one still running would go on writing the old keys.
 */
import { idOf } from "../channel-entry.ts";
import { channelRecord } from "../stream-rules.ts";
import { CHECKED_WRITE_SCRIPT, CheckedWrite } from "./checked-write.ts";
import type { ChannelKeys } from "./keys.ts";

/** A Redis stream entry as RESP2 returns it: `[id, [field, value, ...]]`. */
type StreamEntry = [string, string[]];

const utf8 = new TextEncoder();

/**
 * Moves the channel's old keys into its stream, unless it has none; true if it had some. `send`
 * runs one command (a Redis error reply rejects).
 */
export async function migrateLegacyChannel(
  send: (args: string[]) => Promise<unknown>,
  keys: ChannelKeys,
  retention: number,
): Promise<boolean> {
  const { counter, history } = keys.legacy;
  const [counted, newest] = (await Promise.all([
    send(["GET", counter]),
    send(["XREVRANGE", history, "+", "-", "COUNT", String(Math.max(retention, 1))]),
  ])) as [string | null, StreamEntry[]];
  if (counted === null && newest.length === 0) return false;

  // Positions are contiguous: keep the newest run of consecutive ids that ends at the last one
  // issued. What came before a jump of the ids (the clock reseeded a lost counter) is dropped.
  const newestId = newest[0] === undefined ? 0 : idOf(newest[0][1][1] as string);
  const tail = Math.max(Number(counted ?? 0), newestId);
  const kept: string[] = [];
  for (const [, fields] of newest) {
    const json = fields[1] as string;
    if (idOf(json) !== tail - kept.length || kept.length >= retention) break;
    kept.push(json);
  }
  kept.reverse();
  const head = tail - kept.length;
  // Whether anything was ever dropped (XINFO's `entries-added` counts every XADD), for everTrimmed.
  let added = 0;
  if (newest.length > 0) {
    added = Number(fieldOf(await send(["XINFO", "STREAM", history]), "entries-added"));
  }

  const record = channelRecord(head, retention, Date.now(), crypto.randomUUID());
  record.tail = tail;
  for (const json of kept) record.bytes += utf8.encode(json).byteLength;
  const { stream } = keys;
  const write = new CheckedWrite().expect(stream.record, undefined);
  write.run([stream.entries], "DEL", stream.entries);
  write.push(stream.entries, kept);
  // `first` 0: some of the channel's events were dropped before head (see keys.ts).
  const first = added > kept.length ? 0 : head;
  write.run([stream.record], "HSET", stream.record, "json", JSON.stringify(record), "first", String(first));
  // Rare (once per channel): EVAL whole, no cached SHA.
  await send(["EVAL", CHECKED_WRITE_SCRIPT, ...(write.arguments() as string[])]);
  // Migrated by this process or, if the write did not apply, by another one: the old keys are spent.
  await send(["DEL", counter, history]);
  return true;
}

/** A field of a reply that is a flat array in RESP2, and a map (or an object) in RESP3. */
function fieldOf(reply: unknown, name: string): unknown {
  if (reply instanceof Map) return reply.get(name);
  if (Array.isArray(reply)) return reply[reply.indexOf(name) + 1];
  return (reply as Record<string, unknown>)[name];
}
