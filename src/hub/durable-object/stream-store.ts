/**
 * One durable stream in its Durable Object's SQLite storage: its record (one row of JSON, the
 * `StreamRecord` the rules in stream-rules.ts decide on), its entries by position, the forks that
 * hold it (by instance: a fork counted or released twice counts once, so the calls between objects
 * may be retried), and the releases this stream still owes its own source after it was removed.
 * `sql.exec` is synchronous, so each change below is applied whole or not at all.
 */
import type { StreamRecord } from "../stream-rules.ts";

/** A fork's release still owed to its source (the source was unreachable when the fork went). */
export interface PendingRelease {
  source: string;
  sourceInstance: string;
  forkInstance: string;
}

export class SqlStreamStore {
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

  /** An append: its entries and the record as the rules left it, together. */
  append(from: number, entries: Uint8Array[], record: StreamRecord): void {
    this.storage.transactionSync(() => {
      this.putEntries(from, entries);
      this.save(record);
    });
  }

  /** Entries from `from` up to `to` (excluded), at most about `maxBytes` (always one if any). */
  entries(from: number, to: number, maxBytes: number): Uint8Array[] {
    const entries: Uint8Array[] = [];
    let bytes = 0;
    const rows = this.sql.exec<{ data: ArrayBuffer }>(
      "SELECT data FROM entries WHERE position >= ? AND position < ? ORDER BY position",
      from,
      to,
    );
    for (const row of rows) {
      if (entries.length > 0 && bytes + row.data.byteLength > maxBytes) break;
      entries.push(new Uint8Array(row.data));
      bytes += row.data.byteLength;
    }
    return entries;
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
      if (release !== undefined) {
        this.sql.exec(
          "INSERT OR IGNORE INTO releases (source, source_instance, fork_instance) VALUES (?, ?, ?)",
          release.source,
          release.sourceInstance,
          release.forkInstance,
        );
      }
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
