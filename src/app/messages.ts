/**
 * A channel's routes. The generic ones carry any JSON value with an optional event name: publish
 * (`POST /api/channels/:channel/events`) and list (`GET …/events`). The demo feed's (the seed's
 * "real-world" example, message.ts) create, list and stream `{text, author}` messages, for the
 * default channel at /api/messages and for any channel at /api/channels/:channel/messages. Both
 * publish routes take an `Idempotency-Key`. Every channel's stream is `…/messages/stream` (and
 * `…/events/stream`): the same events, whichever route published them.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { type ChannelEvent, EVENT_NAME, type Hub, type Published, RESERVED_EVENT_NAMES } from "../hub/index.ts";
import { type ChannelAccess, TOKEN_PARAMETER } from "./authorization.ts";
import { errorResponse, HttpError } from "./errors.ts";
import { MESSAGE_LIMITS, messageData, newMessageSchema } from "./message.ts";
import { parseOrThrow, queryOf } from "./validation.ts";

export const DEFAULT_CHANNEL = "default";

export const channelName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1 to 64 letters, digits, '-' or '_'");

// Ids are safe integers; anything longer than 16 digits cannot be one of ours.
const messageId = z
  .string()
  .regex(/^\d{1,16}$/, "must be a message id (a whole number)")
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER));

const listQuery = z.object({
  after: messageId.optional(),
  limit: z
    .string()
    .regex(/^\d{1,4}$/, "must be a whole number from 1 to 1000")
    .transform(Number)
    .pipe(z.number().min(1).max(1000))
    .optional(),
  // Read by the authorization middleware (a token for a private channel); one at most.
  [TOKEN_PARAMETER]: z.string().optional(),
});

const streamQuery = z.object({
  lastEventId: messageId.optional(),
  // ?presence=1: also send the channel's subscriber count as it changes (see PRESENCE_EVENT).
  presence: z.enum(["0", "1"], "must be 1 (send presence events) or 0").optional(),
  [TOKEN_PARAMETER]: z.string().optional(),
});

/**
 * How deep data may nest. JSON.parse takes any depth, but JSON.stringify recurses: measured on Node
 * 20, 32,000 nested arrays (64 KB) parse and then overflow the stack when serialised (a 500).
 */
const MAX_DATA_DEPTH = 64;

/** Whether `value` nests no deeper than `depth` arrays and objects. */
function nestsWithin(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null) return true;
  if (depth === 0) return false;
  return Object.values(value).every((member) => nestsWithin(member, depth - 1));
}

/** The body of `POST …/events`. Unknown members are refused: a typo (`"name"`) must not pass unseen. */
const newEventSchema = z.strictObject({
  data: z
    .unknown()
    .refine((data) => data !== undefined, "is required: any JSON value")
    .refine((data) => nestsWithin(data, MAX_DATA_DEPTH), `must not nest deeper than ${MAX_DATA_DEPTH} levels`),
  event: z
    .string()
    .regex(EVENT_NAME, "must be 1 to 64 letters, digits, '-', '_', '.' or ':'")
    .refine((name) => !RESERVED_EVENT_NAMES.has(name), {
      message: `must not be one the server sends itself (${[...RESERVED_EVENT_NAMES].join(", ")})`,
    })
    .optional(),
});

// RFC 9110 field values allow more, but a key is an opaque token: visible ASCII keeps it one header
// value, one Redis key and one SQLite text, whatever the backend.
const idempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, "must be 1 to 255 visible ASCII characters (no spaces)");

/** Answers a publish that was a retry: what the first one answered, marked as Stripe marks it. */
const REPLAYED_HEADER = "idempotent-replayed";

/**
 * `access` decides who may publish and read (see authorization.ts); `publishLimit` counts publishes
 * after that, so a refused token uses up nobody's allowance. The demo feed's routes.
 */
export function messageRoutes(hub: Hub, access: ChannelAccess, publishLimit: MiddlewareHandler) {
  const routes = new Hono();
  const mayRead = access.read(channelOf);
  const limitBody = bodyLimitOf(MESSAGE_LIMITS.bodyBytes);

  routes.post("/", access.publish(channelOf), publishLimit, requireJson, limitBody, async (c) => {
    const input = parseOrThrow(newMessageSchema, await readJson(c), "body");
    const key = idempotencyKeyOf(c);
    const data = messageData(input, new Date().toISOString());
    const published = await hub.publish(channelOf(c), { data, idInData: true, idempotencyKey: key });
    // The message is the event's data, as stored: `{"id":N,"text":…,"author":…,"createdAt":…}`.
    return c.body(published.event.data, statusOf(published), {
      "content-type": "application/json",
      ...replayedHeader(published),
    });
  });

  routes.get("/", mayRead, async (c) => {
    const query = parseOrThrow(listQuery, queryOf(c), "query");
    const events = await hub.list(channelOf(c), query.after ?? 0, query.limit ?? 100);
    // Each event's data is JSON already: joined, not parsed and serialised again.
    return c.body(`{"messages":[${events.map((event) => event.data).join(",")}]}`, 200, {
      "content-type": "application/json",
    });
  });

  routes.get("/stream", mayRead, (c) => streamResponse(c, hub));
  routes.get("/stats", mayRead, async (c) => c.json(await hub.channelStats(channelOf(c))));
  return routes;
}

/** The generic routes: any JSON value, an optional event name; bodies up to `maxBytes` (EVENT_MAX_BYTES). */
export function eventRoutes(hub: Hub, access: ChannelAccess, publishLimit: MiddlewareHandler, maxBytes: number) {
  const routes = new Hono();
  const mayRead = access.read(channelOf);

  routes.post("/", access.publish(channelOf), publishLimit, requireJson, bodyLimitOf(maxBytes), async (c) => {
    const body = parseOrThrow(newEventSchema, await readJson(c), "body");
    const key = idempotencyKeyOf(c);
    const published = await hub.publish(channelOf(c), { data: body.data, event: body.event, idempotencyKey: key });
    const { id, event, createdAt } = published.event;
    return c.json({ id, event, createdAt }, statusOf(published), replayedHeader(published));
  });

  routes.get("/", mayRead, async (c) => {
    const query = parseOrThrow(listQuery, queryOf(c), "query");
    const events = await hub.list(channelOf(c), query.after ?? 0, query.limit ?? 100);
    return c.body(`{"events":[${events.map(eventJson).join(",")}]}`, 200, { "content-type": "application/json" });
  });

  routes.get("/stream", mayRead, (c) => streamResponse(c, hub));
  return routes;
}

/**
 * The feed stream for one client. A reconnecting EventSource sends `Last-Event-ID`; tools that
 * cannot set headers may pass `?lastEventId=`. Without either, the client gets live events only.
 */
export function streamResponse(c: Context, hub: Hub, channel = channelOf(c)): Promise<Response> {
  const query = parseOrThrow(streamQuery, queryOf(c), "query");
  const header = c.req.header("last-event-id");
  const after = header ? parseOrThrow(messageId, header, "last_event_id") : query.lastEventId;
  const signal = c.get("useRequestSignal") ? c.req.raw.signal : undefined;
  const presence = query.presence === "1";
  return hub.stream(channel, {
    after,
    request: c.req.raw,
    signal,
    client: c.get("clientAddress"),
    presence,
    endsAt: c.get("streamDeadline"),
  });
}

function channelOf(c: Context): string {
  return parseOrThrow(channelName, c.req.param("channel") ?? DEFAULT_CHANNEL, "channel");
}

/**
 * The request's `Idempotency-Key`, as the hub keeps it: per publisher when tokens say who that is
 * (the verified `sub`), so that one publisher's key cannot answer another's publish with its result.
 * `encodeURIComponent` never writes `/`, so the first `/` ends the subject.
 */
function idempotencyKeyOf(c: Context): string | undefined {
  const header = c.req.header("idempotency-key");
  if (header === undefined) return undefined;
  const key = parseOrThrow(idempotencyKey, header, "idempotency_key");
  const subject = c.get("tokenSubject");
  return `${subject === undefined ? "" : encodeURIComponent(subject)}/${key}`;
}

const statusOf = (published: Published): ContentfulStatusCode => (published.replayed ? 200 : 201);

const replayedHeader = (published: Published): Record<string, string> =>
  published.replayed ? { [REPLAYED_HEADER]: "true" } : {};

/** `{"id","event","data","createdAt"}`, with the data's JSON text as it is. */
function eventJson(event: ChannelEvent): string {
  return `{"id":${event.id},"event":${JSON.stringify(event.event)},"data":${event.data},"createdAt":${JSON.stringify(event.createdAt)}}`;
}

const requireJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    return errorResponse(c, 415, "unsupported_media_type", "send the body as content-type: application/json");
  }
  return next();
};

function bodyLimitOf(maxSize: number): MiddlewareHandler {
  return bodyLimit({
    maxSize,
    onError: (c) => errorResponse(c, 413, "body_too_large", `the body must be at most ${maxSize} bytes`),
  });
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not valid JSON");
  }
}
