/**
 * Reading a stream's entries by position and the record that maps positions to list indexes
 * (index = position - head) in one step: retention moves `head` as entries come (a channel's
 * history limit, publish-script.ts), and an LRANGE computed from a record read a moment earlier
 * would return later entries than asked for. One script, so the two cannot drift apart.
 *
 * The first `"head":` is the record's own field: it comes before any nested object, and a JSON
 * string cannot hold an unescaped quote (see publish-script.ts).
 *
 * KEYS: the record, the entries. ARGV: the first position wanted, how many entries at most.
 * Returns nil when there is no record; else the record's JSON and the entries kept from the first
 * position on or, if retention dropped that, from the record's head on.
 */
export const READ_SCRIPT = `
local record = redis.call('HGET', KEYS[1], 'json')
if not record then return false end
local _, colon = string.find(record, '"head":', 1, true)
local head = tonumber(string.match(record, '^%d+', colon + 1))
local start = math.max(tonumber(ARGV[1]), head) - head
return {record, redis.call('LRANGE', KEYS[2], start, start + tonumber(ARGV[2]) - 1)}
`;
