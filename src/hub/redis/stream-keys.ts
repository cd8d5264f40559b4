/**
 * Where one durable stream lives in Redis. Every key of a stream carries the same hash tag, so on
 * Redis Cluster its record, entries and pub/sub channel sit in one slot and one script may write
 * them together. Stream names may hold any printable character, braces too: `%`, `{` and `}` are
 * escaped (injectively, as in a URL), so a name can neither move the tag nor empty it.
 */
export interface StreamKeys {
  /**
   * A hash: `json` (the StreamRecord), `touched` (the last read, ms, for a sliding TTL) and, for a
   * channel's stream only, `first` (see keys.ts).
   */
  record: string;
  /** A list: the entry at position p is at index p - record.head, each its bytes as stored. */
  entries: string;
  /** A set: the names of the forks made from this stream (their records say if they still count). */
  forks: string;
  /** The sharded pub/sub channel each change is announced on (log-notice.ts). */
  changes: string;
  /** The sharded pub/sub channel the stream's end (its close, its deletion) is also announced on. */
  ends: string;
}

/** What every key of stream `name` starts with; the key names below append `:<what>` to it. */
export function streamTag(prefix: string, name: string): string {
  return `${prefix}:stream:{${name.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}}`;
}

export function streamKeys(prefix: string, name: string): StreamKeys {
  const tag = streamTag(prefix, name);
  return {
    record: `${tag}:record`,
    entries: `${tag}:entries`,
    forks: `${tag}:forks`,
    changes: `${tag}:changes`,
    ends: `${tag}:ends`,
  };
}
