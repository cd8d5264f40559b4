/**
 * History in a Durable Object's SQLite storage: it survives the object's restarts and
 * evictions. `sql.exec` is synchronous, which the channel's replay relies on (see store.ts), and
 * which makes "seen this idempotency key? else store" one step no other request can enter.
 */
import { type ChannelEvent, dataWithId, type EventDraft, type Published } from "./channel-event.ts";
import { DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS, type EventStore } from "./store.ts";

type Row = { id: number; event: string | null; data: string; created_at: string };

export interface SqlEventStoreOptions {
  idempotencyKeyTtlSeconds?: number;
}

export class SqlEventStore implements EventStore {
  private readonly keyTtlMs: number;

  constructor(
    private readonly sql: SqlStorage,
    private readonly limit: number,
    { idempotencyKeyTtlSeconds = DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS }: SqlEventStoreOptions = {},
  ) {
    this.keyTtlMs = idempotencyKeyTtlSeconds * 1000;
    // The table keeps the name it had when it held only the seed's messages: its AUTOINCREMENT
    // sequence (in sqlite_sequence, by table name) is what keeps ids above every id ever issued,
    // even after the oldest rows are trimmed, so a client's Last-Event-ID stays meaningful.
    sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      event TEXT,
      data TEXT NOT NULL,
      created_at TEXT NOT NULL
    )`);
    migrateSeedMessages(sql);
    // The event the key first published, whole: the answer to a retry even once trimmed from history.
    sql.exec(`CREATE TABLE IF NOT EXISTS idempotency_keys (
      key TEXT PRIMARY KEY,
      id INTEGER NOT NULL,
      event TEXT,
      data TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at INTEGER NOT NULL
    )`);
    sql.exec("CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at)");
  }

  append(draft: EventDraft, createdAt: string, idempotencyKey?: string): Published {
    const now = Date.now();
    if (idempotencyKey !== undefined) {
      // Trimmed here, on keyed publishes only: the index makes it one range delete.
      this.sql.exec("DELETE FROM idempotency_keys WHERE expires_at <= ?", now);
      const first = this.sql
        .exec<Row>("SELECT id, event, data, created_at FROM idempotency_keys WHERE key = ?", idempotencyKey)
        .toArray()[0];
      if (first !== undefined) return { event: eventOf(first), replayed: true };
    }
    // The next id of the AUTOINCREMENT sequence, given explicitly so that the data can hold it
    // (idInData); the sequence follows it. Synchronous: no other publish comes in between.
    const id = this.latestId() + 1;
    const event: ChannelEvent = { id, event: draft.event, data: dataWithId(draft, id), createdAt };
    this.sql.exec(
      "INSERT INTO messages (id, event, data, created_at) VALUES (?, ?, ?, ?)",
      id,
      event.event,
      event.data,
      createdAt,
    );
    this.sql.exec("DELETE FROM messages WHERE id <= ?", id - this.limit);
    if (idempotencyKey !== undefined) {
      this.sql.exec(
        "INSERT INTO idempotency_keys (key, id, event, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        idempotencyKey,
        id,
        event.event,
        event.data,
        createdAt,
        now + this.keyTtlMs,
      );
    }
    return { event, replayed: false };
  }

  after(after: number, limit: number): ChannelEvent[] {
    return this.sql
      .exec<Row>("SELECT id, event, data, created_at FROM messages WHERE id > ? ORDER BY id LIMIT ?", after, limit)
      .toArray()
      .map(eventOf);
  }

  oldestId(): number | undefined {
    return this.sql.exec<{ id: number | null }>("SELECT min(id) AS id FROM messages").one().id ?? undefined;
  }

  latestId(): number {
    const row = this.sql.exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").toArray()[0];
    return row?.seq ?? 0;
  }
}

function eventOf(row: Row): ChannelEvent {
  return { id: row.id, event: row.event, data: row.data, createdAt: row.created_at };
}

type SeedRow = { id: number; text: string; author: string | null; created_at: string };

/**
 * An object created before channels carried any JSON has a `messages` table of `text, author`
 * columns. It is rewritten in place, once, on the object's first start with this code: each row's
 * data becomes the message as it was sent (`{"id","text","author","createdAt"}`, serialised here
 * as the hub serialises), so its history replays after a deploy exactly as before, and its ids
 * continue from the same sequence.
 */
function migrateSeedMessages(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('messages')").toArray();
  if (!columns.some((column) => column.name === "text")) return;
  sql.exec("ALTER TABLE messages ADD COLUMN event TEXT");
  sql.exec("ALTER TABLE messages ADD COLUMN data TEXT NOT NULL DEFAULT ''");
  for (const row of sql.exec<SeedRow>("SELECT id, text, author, created_at FROM messages").toArray()) {
    const data = JSON.stringify({ id: row.id, text: row.text, author: row.author, createdAt: row.created_at });
    sql.exec("UPDATE messages SET data = ? WHERE id = ?", data, row.id);
  }
  sql.exec("ALTER TABLE messages DROP COLUMN text");
  sql.exec("ALTER TABLE messages DROP COLUMN author");
}
