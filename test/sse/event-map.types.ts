/**
 * Type tests for typed events, checked by `tsc -p tsconfig.node.json` (npm run check:types): each
 * @ts-expect-error line must fail to compile, or tsc reports the directive as unused.
 */
import { expectTypeOf } from "vitest";
import { type EventOf, type EventSink, eventStream, type ItemOf } from "../../src/sse/index.ts";

interface Events {
  tick: { at: string };
  progress: { done: number; total: number };
  message: string;
}

eventStream<Events>((sink) => {
  sink.send({ event: "tick", data: { at: "now" } });
  sink.send({ event: "progress", data: { done: 1, total: 2 }, id: 7, retry: 1000 });
  sink.send({ data: "a message, as the map has `message`" });
  // @ts-expect-error: no such event in the map
  sink.send({ event: "tock", data: { at: "now" } });
  // @ts-expect-error: a tick's data is { at: string }
  sink.send({ event: "tick", data: { at: 1 } });
  // @ts-expect-error: a progress without its total
  sink.send({ event: "progress", data: { done: 1 } });
  // @ts-expect-error: a message's data is a string here
  sink.send({ data: { text: "x" } });
});

async function* generate(): AsyncGenerator<ItemOf<Events>> {
  yield "a string is a message's data";
  yield { event: "tick", data: { at: "now" } };
  // @ts-expect-error: no such event in the map
  yield { event: "tock", data: {} };
}
eventStream<Events>(generate());

// Without `message` in the map, an event must be named and a bare string is no item.
type Named = { tick: { at: string } };
// @ts-expect-error: an unnamed event is a message, which Named has not
const unnamed: EventOf<Named> = { data: { at: "now" } };
// @ts-expect-error: a string is a message's data
const text: ItemOf<Named> = "text";

// Untyped, anything goes, as before event maps.
eventStream((sink) => {
  sink.send({ data: "text" });
  sink.send({ event: "anything", data: { any: ["json"] } });
});

expectTypeOf<EventOf<Named>["event"]>().toEqualTypeOf<"tick">();
expectTypeOf<EventOf<Named>["data"]>().toEqualTypeOf<{ at: string }>();
expectTypeOf<EventOf<Events>["event"]>().toEqualTypeOf<"tick" | "progress" | "message" | undefined>();
expectTypeOf<EventSink<Named>["send"]>().parameter(0).toEqualTypeOf<EventOf<Named>>();

export { text, unnamed };
