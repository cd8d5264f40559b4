/**
 * A stream's change as it travels over pub/sub to every process: one JSON line (the kind, and for
 * an append its position, the entries' sizes and the record), then the appended entries' bytes, so
 * binary entries travel as they are (no base64) and each process decodes them once for all its
 * watchers. JSON.stringify escapes every newline, so the first newline ends the header.
 *
 * A channel's stream gets the same notices from the publish script (publish-script.ts builds this
 * header in Lua), and the channel's subscribers in each process read them too (redis-channel.ts):
 * one announcement per event serves both. Presence notices share that pub/sub channel; they are no
 * change of the stream, and log watchers ignore them.
 */
import type { LogChange } from "../log.ts";
import type { StreamRecord } from "../stream-rules.ts";

type NoticeHeader =
  | { kind: "appended"; from: number; sizes: number[]; record: StreamRecord }
  | { kind: "created"; record: StreamRecord }
  | { kind: "deleted" };

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
