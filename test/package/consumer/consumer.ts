// A TypeScript user of every Node-side entry, checked with tsc under `nodenext` and `bundler`
// (tsconfig.nodenext.json, tsconfig.bundler.json). A line after @ts-expect-error that compiles
// fails the check, so each one proves the types refuse it.
import { serve } from "@hono/node-server";
import {
  type EventSink,
  EventStreamError,
  eventStream,
  type ItemOf,
  OpenStreams,
  type SourceErrorData,
  StreamCapError,
} from "edge-sse";
import { eventStreamMiddleware, type HonoStreamOptions, streamEvents } from "edge-sse/hono";
import { type Hub, MemoryHub, type Published } from "edge-sse/hub";
import { directEventStreams } from "edge-sse/node";
import { Hono } from "hono";

type Events = { tick: { at: string }; progress: { done: number; total: number } };

const app = new Hono();
const openStreams = new OpenStreams({ maxStreams: 100, maxStreamsPerClient: 10 });
const options: HonoStreamOptions = { openStreams, keepAliveMs: 10_000 };

// Annotated, each yield is checked against the map where it stands.
async function* ticks(sink: EventSink<Events>): AsyncGenerator<ItemOf<Events>> {
  sink.signal.throwIfAborted();
  yield { event: "tick", data: { at: new Date().toISOString() } };
  yield { event: "progress", data: { done: 1, total: 2 }, id: 1 };
  // @ts-expect-error: "tock" is not an event of the map
  yield { event: "tock", data: { at: "" } };
  // @ts-expect-error: a tick's data is { at: string }
  yield { event: "tick", data: { at: 1 } };
  // @ts-expect-error: the map has no `message`, so a bare string is not an event of it
  yield "plain";
}
app.get("/ticks", (c) => streamEvents<Events>(c, ticks, options));
// Not annotated, a wrong item still fails to compile, at the call.
app.get("/wrong", (c) =>
  // @ts-expect-error: the generator yields a "tock", which the map has not
  streamEvents<Events>(c, async function* () {
    yield { event: "tock" as const, data: { at: "" } };
  }),
);

app.use(
  "/sse",
  eventStreamMiddleware<Events>(() => (sink: EventSink<Events>) => {
    sink.send({ event: "tick", data: { at: "now" } });
    // @ts-expect-error: an event without a name is a message, which the map has not
    sink.send({ data: "x" });
  }),
);

// Untyped: any name, any data, strings as they are.
const items: ItemOf<Record<string, unknown>>[] = ["text", { event: "any", data: { n: 1 } }, { data: "message" }];
eventStream(
  (async function* () {
    yield* items;
  })(),
);

const hub: Hub = new MemoryHub(
  100,
  { retry: 3000, keepAliveMs: 5000, maxBufferedBytes: 1 << 20, maxBufferedEvents: 1000 },
  openStreams,
);
const published: Promise<Published> = hub.publish("news", { data: { text: "hello" }, event: "note" });
const errorData: SourceErrorData = { error: { code: "x", message: "y" } };
const errors = [new EventStreamError("code", "message"), new StreamCapError("streams")];

serve({ fetch: directEventStreams(app.fetch), port: 0 });

export { errorData, errors, published };
