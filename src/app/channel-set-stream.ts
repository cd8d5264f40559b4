/**
 * `GET /api/stream?channel=a&channel=b…`: several channels in one SSE stream, resumed exactly with
 * one cursor (see src/hub/channel-set.ts for the wire format, README "Several channels in one
 * stream" for its users).
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import { type Config, streamSettings } from "../config.ts";
import { CursorError, channelSetStream, parseCursor } from "../hub/channel-set.ts";
import type { Hub } from "../hub/index.ts";
import type { OpenStreams } from "../sse/index.ts";
import { type ChannelAccess, TOKEN_PARAMETER } from "./authorization.ts";
import { HttpError } from "./errors.ts";
import { channelName } from "./messages.ts";
import { parseOrThrow, queryOf } from "./validation.ts";

export function channelSetRoutes(hub: Hub, access: ChannelAccess, config: Config, openStreams: OpenStreams) {
  const most = config.maxChannelsPerStream;
  const query = z.object({
    channel: z.union([channelName.transform((name) => [name]), z.array(channelName)]).pipe(
      z
        .array(z.string())
        .max(most, `at most ${most} channels (MAX_CHANNELS_PER_STREAM)`)
        .refine((names) => new Set(names).size === names.length, "each channel at most once"),
    ),
    lastEventId: z.string().optional(),
    presence: z.enum(["0", "1"], "must be 1 (send presence events) or 0").optional(),
    [TOKEN_PARAMETER]: z.string().optional(),
  });
  // Parsed once per request, before authorization, which needs the channels.
  const parsed = (c: Context) => {
    let value = c.get("channelSetQuery");
    if (value === undefined) {
      value = parseOrThrow(query, { channel: [], ...queryOf(c) }, "query");
      if (value.channel.length === 0)
        throw new HttpError(400, "invalid_query", "query.channel: name at least one channel");
      c.set("channelSetQuery", value);
    }
    return value;
  };

  const routes = new Hono();
  routes.get(
    "/",
    access.readEach((c) => parsed(c).channel),
    (c) => {
      const { channel: channels, lastEventId, presence } = parsed(c);
      // EventSource sends the cursor back as Last-Event-ID; tools that cannot set headers use the query.
      const cursor = c.req.header("last-event-id") || lastEventId || undefined;
      let positions: Map<string, number> | undefined;
      try {
        positions = cursor === undefined ? undefined : parseCursor(cursor, channels);
      } catch (error) {
        if (error instanceof CursorError) throw new HttpError(400, "invalid_cursor", `last_event_id: ${error.message}`);
        throw error;
      }
      return channelSetStream(hub, {
        channels,
        cursor: positions,
        request: c.req.raw,
        signal: c.get("useRequestSignal") ? c.req.raw.signal : undefined,
        client: c.get("clientAddress"),
        presence: presence === "1",
        endsAt: c.get("streamDeadline"),
        openStreams,
        settings: streamSettings(config),
      });
    },
  );
  return routes;
}

declare module "hono" {
  interface ContextVariableMap {
    channelSetQuery: { channel: string[]; lastEventId?: string | undefined; presence?: "0" | "1" | undefined };
  }
}
