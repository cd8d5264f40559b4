/**
 * The protocol's offsets (PROTOCOL.md §8): opaque to clients, compared as strings. Ours is
 * `GGGGGGGGGGGGGGGG_PPPPPPPPPPPPPPPP`: a generation (0 today) and a position in the log (entries
 * before it), 16 decimal digits each, so that string order is number order and nothing in it needs
 * escaping in a URL. The shape is the reference server's: the public conformance suite builds the
 * zero offset (`0000000000000000_0000000000000000`) itself. `-1` (the start) and `now` (the tail)
 * are the sentinels.
 */

const DIGITS = 16;
const OFFSET = /^(\d{16})_(\d{16})$/;
const GENERATION = "0".repeat(DIGITS);

export function formatOffset(position: number): string {
  return `${GENERATION}_${String(position).padStart(DIGITS, "0")}`;
}

/**
 * A position, `"start"` for `-1` (the oldest entry kept: a channel's stream drops its oldest), `"tail"`
 * for `now`, or undefined for anything that is not an offset of ours.
 */
export function parseOffset(text: string): number | "start" | "tail" | undefined {
  if (text === "-1") return "start";
  if (text === "now") return "tail";
  const match = OFFSET.exec(text);
  if (match === null || match[1] !== GENERATION) return undefined;
  const position = Number(match[2]);
  return Number.isSafeInteger(position) ? position : undefined;
}
