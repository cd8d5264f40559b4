/**
 * Type tests for the client's typed events, checked by `tsc -p tsconfig.node.json` (npm run
 * check:types): the server's event map types the handlers; each @ts-expect-error must fail to compile.
 */
import { expectTypeOf } from "vitest";
import { connectChannels, connectEventStream } from "../../src/client/index.ts";

interface Events {
  tick: { at: string };
  message: { id: number; text: string };
}

const stream = connectEventStream<Events>({ url: "https://example.test/feed" });
stream.on("tick", ({ data }) => expectTypeOf(data).toEqualTypeOf<{ at: string }>());
stream.on("message", ({ data, id }) => {
  expectTypeOf(data.text).toBeString();
  expectTypeOf(id).toEqualTypeOf<string | undefined>();
});
// @ts-expect-error: no such event in the map
stream.on("tock", () => {});
// @ts-expect-error: a tick has no text
stream.on("tick", ({ data }) => data.text);
stream.close();

// Several channels: each channel's events typed by its own map.
const channels = connectChannels<{ news: { message: { title: string } }; chat: { message: { text: string } } }>({
  url: "https://example.test/api/stream",
  channels: ["news", "chat"],
});
channels.channel("news").on("message", ({ data }) => expectTypeOf(data.title).toBeString());
channels.on("chat/message", ({ data }) => expectTypeOf(data.text).toBeString());
channels.on("cursor", ({ data }) => expectTypeOf(data).toEqualTypeOf<Record<string, number>>());
// @ts-expect-error: not a channel of this stream
channels.channel("sport");
// @ts-expect-error: a news message has no text
channels.channel("news").on("message", ({ data }) => data.text);
// @ts-expect-error: only the stream's channels
connectChannels<{ news: { message: string } }>({ url: "/api/stream", channels: ["chat"] });
channels.close();
