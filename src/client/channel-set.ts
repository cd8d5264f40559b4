/**
 * The client side of several channels in one stream (`GET /api/stream?channel=a&channel=b…`): the
 * server names each channel's events `<channel>/<type>` and makes every `id:` a cursor over all the
 * channels, which `EventStreamClient` already sends back as `Last-Event-ID`, so a reconnect resumes
 * every channel exactly with nothing to do here but build the URL and give the events their types.
 */
import { EventStreamClient } from "./event-stream-client.ts";
import { canShare, runShared } from "./shared-stream.ts";
import type { EventHandler, EventStreamOptions } from "./types.ts";

/** Each channel's own events, as its single-channel stream names them (`message`, `presence`…). */
export type ChannelMap = Record<string, object>;

/** The multi-channel stream's event map: `news/message` for `{ news: { message: … } }`, and its own events. */
export type ChannelSetEvents<Channels extends ChannelMap> = UnionToIntersection<
  {
    [Channel in keyof Channels & string]: {
      [Type in keyof Channels[Channel] & string as `${Channel}/${Type}`]: Channels[Channel][Type];
    };
  }[keyof Channels & string]
> & {
  /** The first event: where each channel starts. */
  cursor: Record<string, number>;
  "token-expired": { error: { code: string; message: string } };
};

type UnionToIntersection<U> = (U extends unknown ? (union: U) => void : never) extends (all: infer I) => void
  ? I
  : never;

export interface ChannelSetOptions<Channels extends ChannelMap> extends Omit<EventStreamOptions, "url"> {
  /** The stream's address without its channels (`/api/stream`); a function is called before every attempt. */
  url: EventStreamOptions["url"];
  /** The channels to follow, each once. */
  channels: readonly (keyof Channels & string)[];
  /** Also receive each channel's subscriber count (`<channel>/presence`). */
  presence?: boolean;
}

export class ChannelSetClient<Channels extends ChannelMap> extends EventStreamClient<ChannelSetEvents<Channels>> {
  /** One channel's events, typed by its own map: `channel("news").on("message", …)`. */
  channel<Channel extends keyof Channels & string>(name: Channel) {
    return {
      on: <Type extends keyof Channels[Channel] & string>(
        type: Type,
        handler: EventHandler<Channels[Channel][Type]>,
      ): (() => void) =>
        // The names are the server's own: `${name}/${type}` is a key of ChannelSetEvents.
        this.on(`${name}/${type}` as never, handler as never),
    };
  }

  /** Where each channel is: the last id received from it (the cursor the client resumes with). */
  positions(): Record<string, number> {
    const positions: Record<string, number> = {};
    for (const entry of this.lastEventId?.split(",") ?? []) {
      const at = entry.lastIndexOf(":");
      if (at > 0) positions[entry.slice(0, at)] = Number(entry.slice(at + 1));
    }
    return positions;
  }
}

/**
 * Follows several channels in one stream, resumed exactly after every reconnect. With `share`, in a
 * browser, the tabs of the origin that use the same name share one connection.
 */
export function connectChannels<Channels extends ChannelMap>(
  options: ChannelSetOptions<Channels>,
): ChannelSetClient<Channels> {
  const { url, channels, presence } = options;
  const withChannels = async () => {
    // Relative to the page in a browser; elsewhere the URL must be absolute.
    const page = (globalThis as { location?: { href: string } }).location?.href;
    const base = new URL(String(typeof url === "function" ? await url() : url), page);
    for (const channel of channels) base.searchParams.append("channel", channel);
    if (presence) base.searchParams.set("presence", "1");
    return base;
  };
  const streamOptions: EventStreamOptions = { ...options, url: withChannels };
  const client = new ChannelSetClient<Channels>(streamOptions);
  if (options.share !== undefined && canShare())
    runShared(client as EventStreamClient<object>, options.share, streamOptions);
  else client.run().catch((error) => options.onError?.(error));
  return client;
}
