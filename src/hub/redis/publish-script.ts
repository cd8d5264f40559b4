/**
 * Publishing is one Lua script, so that numbering, storing, trimming and announcing an event (and,
 * with an idempotency key, checking and recording the key) are one step that no other process can
 * interleave with: ids are strictly increasing and gap-free per channel across every process, an
 * event is announced only once it is stored (a 201 means stored), and concurrent publishes with one
 * key, from any number of processes, store one event.
 *
 * A channel is its stream of the log (keys.ts, channel-log.ts): the script appends the event's entry
 * to the stream's entries and moves the record as the shared rules would (`applyWrite` with
 * retention): id = tail + 1 at position tail, head moved up to keep the newest ARGV[3] entries, the
 * dropped entries' bytes taken off. So every RedisLog reads the channel as any stream.
 * The id is raised above tail + 1 where that would not be above everything issued:
 * - above the highest id the publishing process has seen (ARGV[4]): after a Redis restart that lost
 *   the last second of an append-only file, clients may hold ids the new Redis never stored;
 * - when the record is missing (a new channel, a flushed or non-persistent Redis, an evicted key):
 *   at least the clock in microseconds, as the in-memory hub seeds its ids, so a client holding a
 *   `Last-Event-ID` from before the loss is sent everything published after it (unless the lost
 *   channel had averaged over a million events a second since it was seeded).
 * Positions are contiguous, so when the id jumps the entries kept end too far below it: they are
 * dropped and the stream starts again at the new place (head = tail = id - 1, which readers and
 * `everTrimmed` see as trimmed).
 *
 * The record is the JSON text RedisLog and the rules read (a StreamRecord), edited as text: Redis's
 * cjson encodes numbers with at most 14 significant digits (measured on Redis 7.0.15:
 * 1765000000012345 became 1.7650000000123e+15, and `encode_number_precision(16)` is refused), which
 * ids from the clock need 16 of. Only `"tail":T,"head":H,"bytes":B` changes, found by a plain search
 * for the first `"tail":` (a JSON string cannot hold an unescaped quote, and the record's own fields
 * come before its nested objects) and rewritten in one piece: each edit of the ~330-byte record cost
 * Redis 3 to 7 µs (measured: a Lua pattern tried at every position, or the copies and the garbage
 * they leave), and five separate edits doubled the script's time. `retention` is rewritten only when
 * HISTORY_LIMIT changed. `touchedAt` stays the record's creation: only a TTL counts from it, and a
 * channel's stream has none. A new record is ARGV[7], made by `channelRecord` (stream-rules.ts), so
 * its shape is the rules' own. Lua numbers are doubles, exact below 2^53 (microseconds since 1970
 * stay under that until the year 2255), and `%d` formats them without an exponent.
 *
 * The entry (see channel-entry.ts) is built around the caller's pieces: `{"id":N,` + ARGV[1]
 * (`"event":…,"createdAt":…,"data":`) + the data + `}`. With ARGV[5] = '1' (idInData) ARGV[2] is an
 * object's text after its `{`, and the script writes `{"id":N` in front of it, as the seed's messages
 * carry their id; else ARGV[2] is the data whole. It is announced on the stream's `changes` channel
 * as a log notice (log-notice.ts): the header `encodeNotice` would write, a newline, the entry.
 *
 * KEYS: the stream's record, its entries, its changes channel (a key too, so Cluster checks it
 * shares their slot), and optionally the idempotency key's key (same slot, see keys.ts).
 * ARGV: the envelope's middle, the data, the retention (history limit), the highest id the caller
 * has seen (or 0), '1' for idInData, the idempotency key's TTL in seconds, the record to start from
 * if there is none (or '': then the script stores nothing and returns nil, so that the caller can
 * migrate the channel's keys from before it was a stream first; see legacy-channel.ts).
 * Returns the id (a number), or, for an idempotency key seen before, the first event's entry, or nil.
 */
export const PUBLISH_SCRIPT = `
if KEYS[4] then
  local first = redis.call('GET', KEYS[4])
  if first then return first end
end
local record = redis.call('HGET', KEYS[1], 'json')
local fresh = not record
if fresh then
  if ARGV[7] == '' then return false end
  record = ARGV[7]
end
-- The record's tail, head and bytes, side by side as the rules lay a record out: one edit a publish.
local at = string.find(record, '"tail":', 1, true)
local from, to, tail, head, bytes = string.find(record, '^"tail":(%d+),"head":(%d+),"bytes":(%d+)', at)
if not from then return redis.error_reply('not a stream record: ' .. KEYS[1]) end
tail, head, bytes = tonumber(tail), tonumber(head), tonumber(bytes)
if fresh then
  local now = redis.call('TIME')
  tail = tonumber(now[1]) * 1000000 + tonumber(now[2])
end
local id = math.max(tail + 1, tonumber(ARGV[4]) + 1)
if fresh or id > tail + 1 then
  redis.call('DEL', KEYS[2])
  head = id - 1
  bytes = 0
end
if fresh then redis.call('HSET', KEYS[1], 'first', string.format('%d', head)) end
local text = string.format('%d', id)
local data = ARGV[2]
if ARGV[5] == '1' then data = '{"id":' .. text .. data end
local entry = '{"id":' .. text .. ',' .. ARGV[1] .. data .. '}'
redis.call('RPUSH', KEYS[2], entry)
bytes = bytes + #entry
local kept = math.max(head, id - tonumber(ARGV[3]))
if kept > head then
  for _, dropped in ipairs(redis.call('LPOP', KEYS[2], kept - head)) do bytes = bytes - #dropped end
  head = kept
end
record = string.sub(record, 1, from - 1) .. string.format('"tail":%d,"head":%d,"bytes":%d', id, head, bytes) ..
  string.sub(record, to + 1)
-- A HISTORY_LIMIT changed since the record was written applies from now on.
local _, colon = string.find(record, '"retention":', 1, true)
if colon then
  local _, last, retention = string.find(record, '^(%w+)', colon + 1)
  if retention and retention ~= ARGV[3] then record = string.sub(record, 1, colon) .. ARGV[3] .. string.sub(record, last + 1) end
end
redis.call('HSET', KEYS[1], 'json', record)
redis.call('SPUBLISH', KEYS[3], '{"kind":"appended","from":' .. string.format('%d', id - 1) ..
  ',"sizes":[' .. #entry .. '],"record":' .. record .. '}\\n' .. entry)
if KEYS[4] then redis.call('SET', KEYS[4], entry, 'EX', ARGV[6]) end
return id
`;
