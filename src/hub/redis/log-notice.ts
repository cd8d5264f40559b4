/**
 * A stream's change as it travels over pub/sub to every process: one JSON line (the kind, and for
 * an append its position, the entries' sizes and the record), then the appended entries' bytes, so
 * binary entries travel as they are (no base64) and each process decodes them once for all its
 * watchers. JSON.stringify escapes every newline, so the first newline ends the header.
 *
 * An append made by a RedisLog says which one made it (`by`: the log's origin and the append's
 * number): that process knows its own notice from these first bytes alone, and skips it without
 * decoding it when it has told the append already (stream-watchers.ts).
 *
 * A channel's stream gets the same notices from the publish script (publish-script.ts builds this
 * header in Lua, without `by`), and the channel's subscribers in each process read them too (redis-channel.ts):
 * one announcement per event serves both. Presence notices share that pub/sub channel; they are no
 * change of the stream, and log watchers ignore them.
 */
import type { LogChange } from "../log.ts";
import type { StreamRecord } from "../stream-rules.ts";

type NoticeHeader =
  | { kind: "appended"; by?: string; from: number; sizes: number[]; record: StreamRecord }
  | Exclude<LogChange, { kind: "appended" }>;

const NEWLINE = 0x0a;
const APPENDED = '{"kind":"appended",';

/** A channel's subscriber counts moved (see redis-channel.ts): no change of the stream. */
export const PRESENCE_NOTICE = '{"kind":"presence"}\n';

export function encodeNotice(change: LogChange): Buffer {
  if (change.kind !== "appended") return Buffer.from(`${JSON.stringify(change)}\n`);
  const { from, entries, record } = change;
  const header: NoticeHeader = { kind: "appended", from, sizes: entries.map((entry) => entry.byteLength), record };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...entries]);
}

/**
 * The notice of an append made by the log `origin` as its `number`th, with `recordJson` the record's
 * JSON as the append writes it (no second JSON.stringify of the record per append).
 */
export function encodeOwnAppendNotice(
  origin: string,
  number: number,
  { from, entries }: Pick<Extract<LogChange, { kind: "appended" }>, "from" | "entries">,
  recordJson: string,
): Buffer {
  const sizes = entries.map((entry) => entry.byteLength).join(",");
  const header = `${APPENDED}"by":"${origin}.${number}","from":${from},"sizes":[${sizes}],"record":${recordJson}}\n`;
  return Buffer.concat([Buffer.from(header), ...entries]);
}

/** What starts the notices of the appends that the log `origin` makes. */
export function ownNoticePrefix(origin: string): Buffer {
  return Buffer.from(`${APPENDED}"by":"${origin}.`);
}

/**
 * The number of the append a notice tells of if the log whose `ownNoticePrefix` is `prefix` made it;
 * else undefined. Reads only the first bytes: no JSON.
 */
export function ownAppendNumber(notice: Buffer, prefix: Buffer): number | undefined {
  if (notice.length <= prefix.length || notice.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0) {
    return undefined;
  }
  let number = 0;
  for (let at = prefix.length; at < notice.length; at++) {
    const byte = notice[at] as number;
    if (byte === 0x22) return number; // the closing quote
    if (byte < 0x30 || byte > 0x39) return undefined;
    number = number * 10 + (byte - 0x30);
  }
  return undefined;
}

/** The change a notice tells of; undefined for a notice that is none (presence). */
export function decodeNotice(notice: Buffer): LogChange | undefined {
  const end = notice.indexOf(NEWLINE);
  const header = JSON.parse(notice.subarray(0, end).toString("utf8")) as NoticeHeader | { kind: "presence" };
  if (header.kind === "presence") return undefined;
  if (header.kind !== "appended") return header;
  const entries: Uint8Array[] = [];
  let at = end + 1;
  for (const size of header.sizes) {
    // A copy: the notice's buffer may be a slice of node-redis's socket buffer.
    entries.push(new Uint8Array(notice.subarray(at, at + size)));
    at += size;
  }
  return { kind: "appended", from: header.from, entries, record: header.record };
}

/**
 * The entry of an append notice, as text, without parsing the header: on a channel's stream, one
 * event's JSON (the publish script appends one per notice). Undefined for any other notice.
 */
export function appendedText(notice: string): string | undefined {
  if (!notice.startsWith(APPENDED)) return undefined;
  const end = notice.indexOf("\n");
  return end === -1 || end === notice.length - 1 ? undefined : notice.slice(end + 1);
}
