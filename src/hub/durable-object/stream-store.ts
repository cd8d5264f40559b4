/**
 * One stream of the log in its Durable Object's SQLite storage, the one schema of a `StreamObject`
 * (a durable stream) and of a `ChannelObject` (a channel's stream, `channels/<name>`, see
 * channel-log.ts): its record (one row of JSON, the `StreamRecord` the rules in stream-rules.ts
 * decide on), its entries by position, the forks that hold it (by instance: a fork counted or
 * released twice counts once, so the calls between objects may be retried), the releases this
 * stream still owes its own source after it was removed, and a channel's idempotency keys with the
 * entry each first stored. `sql.exec` is synchronous, so each change below is applied whole or not
 * at all, and a channel's "seen this key? else store" is one step no other request enters.
 */
import type { ChannelStorage } from "../channel-log.ts";
import type { ReadResult } from "../log.ts";
import { positionIn, type ReadPosition, type StreamRecord } from "../stream-rules.ts";

/**
 * A fork's release still owed to its source: the source was unreachable when the fork went, or the
 * fork is being created (owed until its first write).
 */
export interface PendingRelease {
  source: string;
  sourceInstance: string;
  forkInstance: string;
}

export class SqlStreamStore implements ChannelStorage {
  // Read once per instance of the object, then kept in step with every write.
  private cached: StreamRecord | undefined | null = null;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly sql: SqlStorage = storage.sql,
  ) {
    sql.exec("CREATE TABLE IF NOT EXISTS stream (id INTEGER PRIMARY KEY CHECK (id = 1), record TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS entries (position INTEGER PRIMARY KEY, data BLOB NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS forks (instance TEXT PRIMARY KEY)");
    sql.exec(`CREATE TABLE IF NOT EXISTS releases (
      source TEXT NOT NULL,
      source_instance TEXT NOT NULL,
      fork_instance TEXT NOT NULL,
      PRIMARY KEY (source_instance, fork_instance)
    )`);
    // The entry a key first stored, whole: the answer to a retry even once retention dropped it.
    sql.exec(`CREATE TABLE IF NOT EXISTS keyed_entries (
      key TEXT PRIMARY KEY,
      entry BLOB NOT NULL,
      expires_at INTEGER NOT NULL
    )`);
    sql.exec("CREATE INDEX IF NOT EXISTS keyed_entries_expiry ON keyed_entries (expires_at)");
  }

  /** The stream's record, as stored (expired or soft-deleted ones included); undefined: none. */
  record(): StreamRecord | undefined {
    if (this.cached === null) {
      const row = this.sql.exec<{ record: string }>("SELECT record FROM stream").toArray()[0];
      this.cached = row === undefined ? undefined : (JSON.parse(row.record) as StreamRecord);
    }
    return this.cached;
  }

  save(record: StreamRecord): void {
    this.sql.exec("INSERT OR REPLACE INTO stream (id, record) VALUES (1, ?)", JSON.stringify(record));
    this.cached = record;
  }

  /** Starts a new stream: nothing of an earlier one (or of a fork's copy that never finished) stays. */
  clearEntries(): void {
    this.sql.exec("DELETE FROM entries");
  }

  /** Stores entries from `position` on (a fork's copy stores them before its record exists). */
  putEntries(position: number, entries: Uint8Array[]): void {
    for (const [index, entry] of entries.entries()) {
      this.sql.exec("INSERT OR REPLACE INTO entries (position, data) VALUES (?, ?)", position + index, entry);
    }
  }

  /**
   * An append: its entries and the record as the rules left it, together. With retention (a
   * channel's), the entries before the record's head go in the same step, their bytes taken off
   * the record's.
   */
  /**
   * Stores entries from `from` and the record in one step; `settled`, a release owed until this
   * write (a fork's, see `owe`), is no longer owed once it is stored.
   */
  write(from: number, entries: Uint8Array[], record: StreamRecord, settled?: PendingRelease): void {
    try {
      this.storage.transactionSync(() => {
        if (settled !== undefined) this.released(settled);
        this.putEntries(from, entries);
        if (record.retention != null) {
          const dropped = this.sql.exec<{ size: number }>(
            "DELETE FROM entries WHERE position < ? RETURNING length(data) AS size",
            record.head,
          );
          for (const { size } of dropped) record.bytes -= size;
        }
        this.save(record);
      });
    } catch (error) {
      // The caller changed the cached record before it was stored: read it again.
      this.cached = null;
      throw error;
    }
  }

  /**
   * A reader's request (StreamLog.read) of the live stream `record`: entries from `position` on,
   * at most about `maxBytes`.
   */
  read(record: StreamRecord, position: ReadPosition, maxBytes: number): ReadResult {
    const from = positionIn(record, position);
    if (from > record.tail) return { kind: "beyond-tail", record };
    if (from < record.head) return { kind: "trimmed", record, oldest: record.head };
    return { kind: "found", record, ...this.page(from, record.tail, maxBytes) };
  }

  /** Entries from `from` up to `to` (excluded), at most about `maxBytes` (always one if any). */
  entries(from: number, to: number, maxBytes = Number.POSITIVE_INFINITY): Uint8Array[] {
    return this.page(from, to, maxBytes).entries;
  }

  /**
   * `entries`, and the position after them. A position with no entry is passed over: a channel's
   * history migrated from its table of messages (channel-history-migration.ts) may lack ids that
   * were issued but not kept.
   */
  private page(from: number, to: number, maxBytes: number): { entries: Uint8Array[]; next: number } {
    const entries: Uint8Array[] = [];
    let bytes = 0;
    const rows = this.sql.exec<{ position: number; data: ArrayBuffer }>(
      "SELECT position, data FROM entries WHERE position >= ? AND position < ? ORDER BY position",
      from,
      to,
    );
    for (const row of rows) {
      if (entries.length > 0 && bytes + row.data.byteLength > maxBytes) return { entries, next: row.position };
      entries.push(new Uint8Array(row.data));
      bytes += row.data.byteLength;
    }
    return { entries, next: to };
  }

  /** The entry an idempotency key first stored, unless it expired by `now` (expired keys go here). */
  keyed(key: string, now: number): Uint8Array | undefined {
    // Trimmed on keyed writes only: the index makes it one range delete.
    this.sql.exec("DELETE FROM keyed_entries WHERE expires_at <= ?", now);
    const row = this.sql
      .exec<{ entry: ArrayBuffer }>("SELECT entry FROM keyed_entries WHERE key = ?", key)
      .toArray()[0];
    return row === undefined ? undefined : new Uint8Array(row.entry);
  }

  rememberKey(key: string, entry: Uint8Array, expiresAt: number): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO keyed_entries (key, entry, expires_at) VALUES (?, ?, ?)",
      key,
      entry,
      expiresAt,
    );
  }

  /**
   * Removes the stream and everything it kept; if it was a fork, records the release it owes its
   * source in the same step, so that a restart cannot lose it.
   */
  remove(release: PendingRelease | undefined): void {
    this.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM stream");
      this.sql.exec("DELETE FROM entries");
      this.sql.exec("DELETE FROM forks");
      if (release !== undefined) this.owe(release);
    });
    this.cached = undefined;
  }

  /** Counts a fork of this stream; false if it was counted already. */
  addFork(forkInstance: string): boolean {
    return this.sql.exec("INSERT OR IGNORE INTO forks (instance) VALUES (?)", forkInstance).rowsWritten > 0;
  }

  /** Forgets a fork of this stream; false if it was not counted. */
  removeFork(forkInstance: string): boolean {
    return this.sql.exec("DELETE FROM forks WHERE instance = ?", forkInstance).rowsWritten > 0;
  }

  forkCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM forks").one().n;
  }

  /**
   * A release owed from now on unless a later step settles it: a fork being created owes its
   * source's count before asking for it, so that an object that crashes between the count and the
   * fork's first write still gives it back (from its alarm).
   */
  owe(release: PendingRelease): void {
    this.sql.exec(
      "INSERT OR IGNORE INTO releases (source, source_instance, fork_instance) VALUES (?, ?, ?)",
      release.source,
      release.sourceInstance,
      release.forkInstance,
    );
  }

  pendingReleases(): PendingRelease[] {
    return this.sql
      .exec<{ source: string; source_instance: string; fork_instance: string }>(
        "SELECT source, source_instance, fork_instance FROM releases",
      )
      .toArray()
      .map((row) => ({ source: row.source, sourceInstance: row.source_instance, forkInstance: row.fork_instance }));
  }

  released(release: PendingRelease): void {
    this.sql.exec(
      "DELETE FROM releases WHERE source_instance = ? AND fork_instance = ?",
      release.sourceInstance,
      release.forkInstance,
    );
  }
}
