/**
 * A write that Redis applies only if the records it was decided on are still as they were read:
 * optimistic concurrency, as WATCH/MULTI/EXEC gives, in one script, so it needs no connection of
 * its own (node-redis pipelines every command of a process on one connection, where a WATCH would
 * watch for everyone). The decision itself (stream-rules.ts) stays in TypeScript; the script only
 * compares and then runs the commands it is given, in order, with nothing in between.
 *
 * KEYS: every key the write reads or writes (declared, so that Redis Cluster can route it).
 * ARGV: the number of checks n; n pairs (record key, its `json` as read, or "" for none); then the
 * commands, each as its number of arguments followed by them. Returns 1 if applied, 0 if a record
 * had changed (nothing was written: decide again on what is there now).
 */
export const CHECKED_WRITE_SCRIPT = `
local n = tonumber(ARGV[1])
local i = 2
for _ = 1, n do
  local json = redis.call('HGET', ARGV[i], 'json')
  if (json or '') ~= ARGV[i + 1] then return 0 end
  i = i + 2
end
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + count))
  i = i + count + 1
end
return 1
`;

export type Argument = string | Buffer;

// Arguments a Lua call may take at once (Redis's Lua stack holds about 8,000): longer pushes are split.
const MAX_ARGUMENTS_PER_COMMAND = 1_000;

export class CheckedWrite {
  private readonly keys = new Set<string>();
  private readonly checks: string[] = [];
  private readonly commands: Argument[] = [];

  /** Applies only if `recordKey`'s json is still `json` (undefined: if there is still none). */
  expect(recordKey: string, json: string | undefined): this {
    this.keys.add(recordKey);
    this.checks.push(recordKey, json ?? "");
    return this;
  }

  /** Adds a command; `keys` are the keys among its arguments. */
  run(keys: string[], ...args: Argument[]): this {
    for (const key of keys) this.keys.add(key);
    this.commands.push(String(args.length), ...args);
    return this;
  }

  /** RPUSH of any number of values, in commands Lua can take. */
  push(list: string, values: Argument[]): this {
    for (let start = 0; start < values.length; start += MAX_ARGUMENTS_PER_COMMAND) {
      this.run([list], "RPUSH", list, ...values.slice(start, start + MAX_ARGUMENTS_PER_COMMAND));
    }
    return this;
  }

  /** The script's KEYS and ARGV, as EVAL and EVALSHA take them after the script, after `head`. */
  arguments(head: Argument[] = []): Argument[] {
    const args = head;
    args.push(String(this.keys.size));
    for (const key of this.keys) args.push(key);
    args.push(String(this.checks.length / 2));
    for (const check of this.checks) args.push(check);
    for (const argument of this.commands) args.push(argument);
    return args;
  }
}
