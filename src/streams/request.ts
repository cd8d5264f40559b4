/**
 * The protocol's request headers and query, checked (PROTOCOL.md §5): every malformed value is a
 * 400 that changes nothing, and every header name is matched case-insensitively (as HTTP says).
 */
import type { ProducerTuple, ReadPosition } from "../hub/stream-rules.ts";
import { badRequest } from "./errors.ts";
import { parseOffset } from "./offset.ts";

// "a non-negative integer in decimal notation without leading zeros, plus signs, decimal points, or
// scientific notation" (§5.1, Stream-TTL; the producer headers likewise, §5.2.1).
const WHOLE_NUMBER = /^(0|[1-9][0-9]*)$/;
const RFC_3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The request's media type, lower-cased, or undefined when it sent none. */
export function contentTypeOf(headers: Headers): string | undefined {
  const value = headers.get("content-type")?.trim().toLowerCase();
  return value === undefined || value === "" ? undefined : value;
}

/** `Stream-Closed: true`, exactly (any case); any other value is as if absent (§4.1). */
export function closeRequested(headers: Headers): boolean {
  return headers.get("stream-closed")?.trim().toLowerCase() === "true";
}

export function wholeNumber(value: string, name: string): number {
  const number = Number(value);
  if (!WHOLE_NUMBER.test(value) || !Number.isSafeInteger(number)) {
    throw badRequest("invalid_header", `${name} must be a whole number without sign or leading zeros`);
  }
  return number;
}

export function expiryOf(headers: Headers): { ttlSeconds: number | null; expiresAt: string | null } {
  const ttl = headers.get("stream-ttl");
  const expiresAt = headers.get("stream-expires-at");
  if (ttl !== null && expiresAt !== null) {
    throw badRequest("invalid_header", "send Stream-TTL or Stream-Expires-At, not both");
  }
  if (expiresAt !== null && (!RFC_3339.test(expiresAt.trim()) || Number.isNaN(Date.parse(expiresAt)))) {
    throw badRequest("invalid_header", "Stream-Expires-At must be an RFC 3339 time");
  }
  return {
    ttlSeconds: ttl === null ? null : wholeNumber(ttl.trim(), "Stream-TTL"),
    expiresAt: expiresAt === null ? null : expiresAt.trim(),
  };
}

/** The idempotent producer's three headers, all or none (§5.2.1). */
export function producerOf(headers: Headers): ProducerTuple | undefined {
  const id = headers.get("producer-id");
  const epoch = headers.get("producer-epoch");
  const seq = headers.get("producer-seq");
  if (id === null && epoch === null && seq === null) return undefined;
  if (id === null || epoch === null || seq === null) {
    throw badRequest("invalid_header", "Producer-Id, Producer-Epoch and Producer-Seq go together");
  }
  if (id.trim() === "") throw badRequest("invalid_header", "Producer-Id must not be empty");
  return { id, epoch: wholeNumber(epoch.trim(), "Producer-Epoch"), seq: wholeNumber(seq.trim(), "Producer-Seq") };
}

/** `Stream-Seq` (§5.2): any non-empty string, compared byte-wise. */
export function streamSeqOf(headers: Headers): string | undefined {
  const value = headers.get("stream-seq");
  if (value === null) return undefined;
  if (value === "") throw badRequest("invalid_header", "Stream-Seq must not be empty");
  return value;
}

export type LiveMode = "long-poll" | "sse" | undefined;

export interface ReadQuery {
  /** A position, `"start"` for `-1` (or none), `"tail"` for `now`. */
  from: ReadPosition;
  live: LiveMode;
  cursor: string | undefined;
}

/** `?offset=&live=&cursor=` (§5.6–5.8); unknown parameters are ignored. */
export function readQueryOf(url: URL): ReadQuery {
  const offsets = url.searchParams.getAll("offset");
  if (offsets.length > 1) throw badRequest("invalid_offset", "send one offset");
  const live = url.searchParams.get("live") ?? undefined;
  if (live !== undefined && live !== "long-poll" && live !== "sse") {
    throw badRequest("invalid_query", "live must be long-poll or sse");
  }
  const text = offsets[0];
  if (text === undefined && live !== undefined) throw badRequest("invalid_offset", `live=${live} needs an offset`);
  const from = text === undefined ? "start" : parseOffset(text);
  if (from === undefined) throw badRequest("invalid_offset", "offset must be -1, now, or an offset this server sent");
  return { from, live, cursor: url.searchParams.get("cursor") ?? undefined };
}
