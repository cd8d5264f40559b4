/**
 * Publishing is one Lua script, so that numbering, storing and announcing an event (and, with an
 * idempotency key, checking and recording the key) are one step that no other process can
 * interleave with: ids are strictly increasing and gap-free per channel across every process, an
 * event is announced only once it is stored (a 201 means stored), and concurrent publishes with one
 * key, from any number of processes, store one event.
 *
 * The id is the counter's next value, raised where it would not be above everything issued:
 * - above the newest entry in the history: a counter restored older than the history (or lost
 *   while the history stayed) must not reuse ids, and XADD refuses an id that is not above the top;
 * - above the highest id the publishing process has seen (ARGV[4]): after a Redis restart that lost
 *   the last second of an append-only file, clients may hold ids the new Redis never stored;
 * - when the counter was missing (a new, flushed or non-persistent Redis, or an evicted key): at
 *   least the clock in microseconds, as the in-memory hub seeds its ids, so a client holding a
 *   `Last-Event-ID` from before the loss is sent everything published after it (unless the lost
 *   counter had averaged over a million events a second since it was seeded).
 * Lua numbers are doubles: exact for ids below 2^53, which microseconds since 1970 stay under
 * until the year 2255. `%d` formats them without an exponent.
 *
 * The stored JSON (see stored-event.ts) is built around the caller's pieces: `{"id":N,` + ARGV[1]
 * (`"event":…,"createdAt":…,"data":`) + the data + `}`. With ARGV[5] = '1' (idInData) ARGV[2] is an
 * object's text after its `{`, and the script writes `{"id":N` in front of it, as the seed's messages
 * carry their id; else ARGV[2] is the data whole.
 *
 * KEYS: counter, history, pub/sub channel (a key too, so Cluster checks it shares their slot), and
 * optionally the idempotency key's key (same slot).
 * ARGV: the envelope's middle, the data, the history limit, the highest id the caller has seen (or 0),
 * '1' for idInData, the idempotency key's TTL in seconds.
 * Returns the id (a number), or, for an idempotency key seen before, the first event's stored JSON.
 */
export const PUBLISH_SCRIPT = `
if KEYS[4] then
  local first = redis.call('GET', KEYS[4])
  if first then return first end
end
local existed = redis.call('EXISTS', KEYS[1]) == 1
local counted = redis.call('INCR', KEYS[1])
local id = counted
if not existed then
  local now = redis.call('TIME')
  id = math.max(id, tonumber(now[1]) * 1000000 + tonumber(now[2]))
end
local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
if top then id = math.max(id, tonumber(string.match(top[1], '^%d+')) + 1) end
id = math.max(id, tonumber(ARGV[4]) + 1)
local text = string.format('%d', id)
if id ~= counted then redis.call('SET', KEYS[1], text) end
local data = ARGV[2]
if ARGV[5] == '1' then data = '{"id":' .. text .. data end
local json = '{"id":' .. text .. ',' .. ARGV[1] .. data .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], text .. '-0', 'm', json)
redis.call('SPUBLISH', KEYS[3], json)
if KEYS[4] then redis.call('SET', KEYS[4], json, 'EX', ARGV[6]) end
return id
`;
