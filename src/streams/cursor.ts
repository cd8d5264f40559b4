/**
 * `Stream-Cursor` (PROTOCOL.md §10.1): the number of 20 s intervals since 2024-10-09T00:00Z, so that
 * CDNs collapse live requests made in the same interval under one cache key and never serve the
 * same cached answer forever. It never goes backwards: a client echoing a cursor at or past the
 * current interval gets one beyond it, by a random 1–3600 s.
 */
const INTERVAL_MS = 20_000;
const EPOCH_MS = Date.UTC(2024, 9, 9);

export function nextCursor(echoed: string | undefined, now = Date.now()): string {
  const current = Math.floor((now - EPOCH_MS) / INTERVAL_MS);
  const previous = echoed !== undefined && /^\d{1,15}$/.test(echoed) ? Number(echoed) : -1;
  if (previous < current) return String(current);
  const jitterSeconds = 1 + Math.floor(Math.random() * 3600);
  return String(previous + Math.max(1, Math.ceil((jitterSeconds * 1000) / INTERVAL_MS)));
}
