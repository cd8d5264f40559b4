/**
 * History in a Durable Object's SQLite storage: it survives the object's restarts and
 * evictions. `sql.exec` is synchronous, which the channel's replay relies on (see store.ts).
 */
import type { Message, NewMessage } from "./message.ts";
import type { MessageStore } from "./store.ts";

type Row = { id: number; text: string; author: string | null; created_at: string };

export class SqlMessageStore implements MessageStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly limit: number,
  ) {
    // AUTOINCREMENT: ids are never reused, even after the oldest rows are trimmed.
    sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      text TEXT NOT NULL,
      author TEXT,
      created_at TEXT NOT NULL
    )`);
  }

  append(input: NewMessage, createdAt: string): Message {
    const author = input.author ?? null;
    const { id } = this.sql
      .exec<{ id: number }>(
        "INSERT INTO messages (text, author, created_at) VALUES (?, ?, ?) RETURNING id",
        input.text,
        author,
        createdAt,
      )
      .one();
    this.sql.exec("DELETE FROM messages WHERE id <= ?", id - this.limit);
    return { id, text: input.text, author, createdAt };
  }

  after(after: number, limit: number): Message[] {
    return this.sql
      .exec<Row>("SELECT id, text, author, created_at FROM messages WHERE id > ? ORDER BY id LIMIT ?", after, limit)
      .toArray()
      .map((row) => ({ id: row.id, text: row.text, author: row.author, createdAt: row.created_at }));
  }

  oldestId(): number | undefined {
    return this.sql.exec<{ id: number | null }>("SELECT min(id) AS id FROM messages").one().id ?? undefined;
  }

  latestId(): number {
    const row = this.sql.exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").toArray()[0];
    return row?.seq ?? 0;
  }
}
