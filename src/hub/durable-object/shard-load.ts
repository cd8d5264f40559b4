/**
 * How many subscribers each shard of a channel holds, per client address too, in the channel
 * object's SQLite storage: it survives hibernation, and it lets the channel's caps and its
 * placement of new subscribers count the whole channel. Each shard reports its real counts after
 * joins and leaves (one report for all those of a turn, see channel-shard.ts); the channel object
 * adds one when it sends a subscriber there, so that subscribers arriving together do not all see
 * the same free place.
 *
 * A place reserved stays counted until the shard reports that subscriber's join: a report sent
 * before it joined (the shard's last subscriber leaving, say) must not make the shard inactive,
 * or the messages published meanwhile would not reach the shard, and the subscriber, placed
 * with the newest id and reading no history (see subscription.ts), would miss them.
 */
export type ClientCounts = Record<string, number>;

export class ShardLoad {
  /** Shards that hold someone, in memory: every change goes through this object, so it stays right. */
  private active: number[] | undefined;
  /**
   * Places reserved on each shard whose join the shard has not reported yet. In memory: a fresh
   * instance recounts its shards (channel-object.ts), and an object does not hibernate while a
   * subscriber is on its way (milliseconds). A subscriber that never arrives (its Worker request
   * failed in between) keeps one place counted until the object restarts.
   */
  private readonly reserved = new Map<number, number>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS shard_load (shard INTEGER PRIMARY KEY, subscribers INTEGER NOT NULL)");
    sql.exec(`CREATE TABLE IF NOT EXISTS shard_clients (
      shard INTEGER NOT NULL,
      client TEXT NOT NULL,
      subscribers INTEGER NOT NULL,
      PRIMARY KEY (shard, client)
    )`);
  }

  /** Subscribers on every shard. */
  total(): number {
    return this.sql.exec<{ n: number }>("SELECT coalesce(sum(subscribers), 0) AS n FROM shard_load").one().n;
  }

  /** Subscribers from `client` on every shard. */
  ofClient(client: string): number {
    return this.sql
      .exec<{ n: number }>("SELECT coalesce(sum(subscribers), 0) AS n FROM shard_clients WHERE client = ?", client)
      .one().n;
  }

  /** Places one subscriber on the first shard with room (numbered from 1), or on a new one. */
  reserve(limit: number, client: string | undefined): number {
    const free = this.sql
      .exec<{ shard: number }>("SELECT shard FROM shard_load WHERE subscribers < ? ORDER BY shard LIMIT 1", limit)
      .toArray()[0];
    const shard =
      free?.shard ??
      this.sql.exec<{ next: number }>("SELECT coalesce(max(shard), 0) + 1 AS next FROM shard_load").one().next;
    this.sql.exec(
      "INSERT INTO shard_load (shard, subscribers) VALUES (?, 1) ON CONFLICT (shard) DO UPDATE SET subscribers = subscribers + 1",
      shard,
    );
    if (client !== undefined) {
      this.sql.exec(
        `INSERT INTO shard_clients (shard, client, subscribers) VALUES (?, ?, 1)
         ON CONFLICT (shard, client) DO UPDATE SET subscribers = subscribers + 1`,
        shard,
        client,
      );
    }
    this.reserved.set(shard, (this.reserved.get(shard) ?? 0) + 1);
    this.active = undefined;
    return shard;
  }

  /**
   * A shard's own counts. `complete`: `clients` lists every client on the shard (its first report
   * since it started), so any other row of that shard is stale. `joined`: subscribers placed by
   * this object that joined the shard since its last report (their places were reserved).
   */
  report(shard: number, subscribers: number, clients: ClientCounts, complete: boolean, joined = 0): void {
    const waiting = Math.max(0, (this.reserved.get(shard) ?? 0) - joined);
    if (waiting === 0) this.reserved.delete(shard);
    else this.reserved.set(shard, waiting);
    this.sql.exec(
      "INSERT INTO shard_load (shard, subscribers) VALUES (?, ?) ON CONFLICT (shard) DO UPDATE SET subscribers = excluded.subscribers",
      shard,
      subscribers + waiting,
    );
    if (complete) this.sql.exec("DELETE FROM shard_clients WHERE shard = ?", shard);
    for (const [client, count] of Object.entries(clients)) {
      if (count === 0) this.sql.exec("DELETE FROM shard_clients WHERE shard = ? AND client = ?", shard, client);
      else {
        this.sql.exec(
          `INSERT INTO shard_clients (shard, client, subscribers) VALUES (?, ?, ?)
           ON CONFLICT (shard, client) DO UPDATE SET subscribers = excluded.subscribers`,
          shard,
          client,
          count,
        );
      }
    }
    this.active = undefined;
  }

  /** Shards that hold at least one subscriber: each publish goes to these. */
  activeShards(): number[] {
    this.active ??= this.sql
      .exec<{ shard: number }>("SELECT shard FROM shard_load WHERE subscribers > 0 ORDER BY shard")
      .toArray()
      .map((row) => row.shard);
    return this.active;
  }

  /** Every shard this channel ever had. */
  knownShards(): number[] {
    return this.sql
      .exec<{ shard: number }>("SELECT shard FROM shard_load ORDER BY shard")
      .toArray()
      .map((row) => row.shard);
  }
}
