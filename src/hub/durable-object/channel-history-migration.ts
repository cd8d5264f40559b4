/**
 * A channel's object created before its history was a stream of the log kept it in a `messages`
 * table (AUTOINCREMENT ids; from the seed's days, `text` and `author` columns instead of `event` and
 * `data`) and its idempotency keys in `idempotency_keys`, one row of columns per key. On the object's
 * first start with this code, in one transaction, that becomes the channel's stream (stream-store.ts):
 * each message the entry of its event (channel-entry.ts) at position id - 1, each key the entry it
 * stored; then the old tables go. The record's tail is the table's AUTOINCREMENT sequence, which is
 * above every id ever issued even after the oldest rows were trimmed, so ids continue from it and
 * every Last-Event-ID a client holds means what it meant. Its head is just before the oldest row kept
 * (the sequence, when none is), so a client behind that is told its history was truncated, as before.
 */
import { channelEntryOf } from "../channel-entry.ts";
import type { ChannelEvent } from "../channel-event.ts";
import { channelRecord } from "../stream-rules.ts";
import type { SqlStreamStore } from "./stream-store.ts";

type MessageRow = { id: number; event: string | null; data: string; created_at: string };
type SeedRow = { id: number; text: string; author: string | null; created_at: string };
type KeyRow = MessageRow & { key: string; expires_at: number };

const utf8 = new TextEncoder();

export function migrateChannelHistory(
  storage: DurableObjectStorage,
  store: SqlStreamStore,
  historyLimit: number,
): void {
  const { sql } = storage;
  if (!hasTable(sql, "messages")) return;
  storage.transactionSync(() => {
    const events = messagesOf(sql);
    const sequence =
      sql.exec<{ seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'messages'").toArray()[0]?.seq ?? 0;
    const tail = Math.max(sequence, events.at(-1)?.id ?? 0);
    // A channel that never published (subscribers only) has no stream yet, as a new one has none.
    if (tail > 0 && store.record() === undefined) {
      const record = channelRecord((events[0]?.id ?? tail + 1) - 1, historyLimit, Date.now(), crypto.randomUUID());
      for (const event of events) {
        const entry = utf8.encode(channelEntryOf(event));
        store.putEntries(event.id - 1, [entry]);
        record.bytes += entry.byteLength;
      }
      record.tail = tail;
      store.save(record);
    }
    if (hasTable(sql, "idempotency_keys")) {
      const keys = sql.exec<KeyRow>("SELECT key, id, event, data, created_at, expires_at FROM idempotency_keys");
      for (const row of keys.toArray())
        store.rememberKey(row.key, utf8.encode(channelEntryOf(eventOf(row))), row.expires_at);
      sql.exec("DROP TABLE idempotency_keys");
    }
    sql.exec("DROP TABLE messages");
  });
}

/** The table's rows as events, oldest first; a seed-era row's data is the message as it was sent. */
function messagesOf(sql: SqlStorage): ChannelEvent[] {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('messages')").toArray();
  if (!columns.some((column) => column.name === "text")) {
    return sql.exec<MessageRow>("SELECT id, event, data, created_at FROM messages ORDER BY id").toArray().map(eventOf);
  }
  return sql
    .exec<SeedRow>("SELECT id, text, author, created_at FROM messages ORDER BY id")
    .toArray()
    .map((row) => ({
      id: row.id,
      event: null,
      // Serialised as the hub serialised the seed's messages.
      data: JSON.stringify({ id: row.id, text: row.text, author: row.author, createdAt: row.created_at }),
      createdAt: row.created_at,
    }));
}

function eventOf(row: MessageRow): ChannelEvent {
  return { id: row.id, event: row.event, data: row.data, createdAt: row.created_at };
}

function hasTable(sql: SqlStorage, name: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0;
}
