/**
 * A stream's change as it travels over pub/sub to every process: one JSON line (the kind, and for
 * an append its position, the entries' sizes and the record), then the appended entries' bytes, so
 * binary entries travel as they are (no base64) and each process decodes them once for all its
 * watchers. JSON.stringify escapes every newline, so the first newline ends the header.
 */
import type { LogChange } from "../log.ts";
import type { StreamRecord } from "../stream-rules.ts";

type NoticeHeader =
  | { kind: "appended"; from: number; sizes: number[]; record: StreamRecord }
  | { kind: "created"; record: StreamRecord }
  | { kind: "deleted" };

const NEWLINE = 0x0a;

export function encodeNotice(change: LogChange): Buffer {
  if (change.kind !== "appended") return Buffer.from(`${JSON.stringify(change)}\n`);
  const { from, entries, record } = change;
  const header: NoticeHeader = { kind: "appended", from, sizes: entries.map((entry) => entry.byteLength), record };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), ...entries]);
}

export function decodeNotice(notice: Buffer): LogChange {
  const end = notice.indexOf(NEWLINE);
  const header = JSON.parse(notice.subarray(0, end).toString("utf8")) as NoticeHeader;
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
