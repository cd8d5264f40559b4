/**
 * The live feed's routes (the seed's "real-world" example): create a message, list history, and
 * stream new messages. Mounted for the default channel at /api/messages and for any channel at
 * /api/channels/:channel/messages.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { type Hub, MESSAGE_LIMITS, newMessageSchema } from "../hub/index.ts";
import { type ChannelAccess, TOKEN_PARAMETER } from "./authorization.ts";
import { errorResponse, HttpError } from "./errors.ts";
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
 * `access` decides who may publish and read (see authorization.ts); `publishLimit` counts publishes
 * after that, so a refused token uses up nobody's allowance.
 */
export function messageRoutes(hub: Hub, access: ChannelAccess, publishLimit: MiddlewareHandler) {
  const routes = new Hono();
  const mayRead = access.read(channelOf);

  routes.post("/", access.publish(channelOf), publishLimit, requireJson, limitBody, async (c) => {
    const input = parseOrThrow(newMessageSchema, await readJson(c), "body");
    return c.json(await hub.publish(channelOf(c), input), 201);
  });

  routes.get("/", mayRead, async (c) => {
    const query = parseOrThrow(listQuery, queryOf(c), "query");
    return c.json({ messages: await hub.list(channelOf(c), query.after ?? 0, query.limit ?? 100) });
  });

  routes.get("/stream", mayRead, (c) => streamResponse(c, hub));
  routes.get("/stats", mayRead, async (c) => c.json(await hub.channelStats(channelOf(c))));
  return routes;
}

/**
 * The feed stream for one client. A reconnecting EventSource sends `Last-Event-ID`; tools that
 * cannot set headers may pass `?lastEventId=`. Without either, the client gets live messages only.
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

const requireJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    return errorResponse(c, 415, "unsupported_media_type", "send the message as content-type: application/json");
  }
  return next();
};

const limitBody = bodyLimit({
  maxSize: MESSAGE_LIMITS.bodyBytes,
  onError: (c) => errorResponse(c, 413, "body_too_large", `the body must be at most ${MESSAGE_LIMITS.bodyBytes} bytes`),
});

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "the body is not valid JSON");
  }
}
