/**
 * The Redis log's change notices (src/hub/redis/log-notice.ts): a log's own append notice decodes as
 * any other, and only that log reads its number from the first bytes.
 */
import { describe, expect, it } from "vitest";
import {
  decodeNotice,
  encodeNotice,
  encodeOwnAppendNotice,
  ownAppendNumber,
  ownNoticePrefix,
} from "../../src/hub/redis/log-notice.ts";
import type { StreamRecord } from "../../src/hub/stream-rules.ts";

const utf8 = new TextEncoder();
const record = { instance: "i1", contentType: "application/json", tail: 2, closed: false } as StreamRecord;
const entries = [utf8.encode('{"type":"text-delta","delta":"a\\"b"}'), utf8.encode("[1,2]")];

describe("log notices", () => {
  it("decodes a log's own append notice as the append, whatever it carries", () => {
    const notice = encodeOwnAppendNotice("abc123", 42, { from: 0, entries }, JSON.stringify(record));
    expect(decodeNotice(notice)).toEqual({ kind: "appended", from: 0, entries, record });
    expect(decodeNotice(encodeOwnAppendNotice("abc123", 43, { from: 2, entries: [] }, JSON.stringify(record)))).toEqual(
      { kind: "appended", from: 2, entries: [], record },
    );
  });

  it("gives the append's number only to the log that made it", () => {
    const notice = encodeOwnAppendNotice("abc123", 42, { from: 0, entries }, JSON.stringify(record));
    expect(ownAppendNumber(notice, ownNoticePrefix("abc123"))).toBe(42);
    expect(ownAppendNumber(notice, ownNoticePrefix("abc12"))).toBeUndefined();
    expect(ownAppendNumber(notice, ownNoticePrefix("def456"))).toBeUndefined();
    // Notices without a maker: the publish script's, a creation, a deletion.
    const other = encodeNotice({ kind: "appended", from: 0, entries, record });
    expect(ownAppendNumber(other, ownNoticePrefix("abc123"))).toBeUndefined();
    expect(ownAppendNumber(encodeNotice({ kind: "deleted" }), ownNoticePrefix("abc123"))).toBeUndefined();
  });
});
