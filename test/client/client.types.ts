/**
 * Type tests for the client's typed events, checked by `tsc -p tsconfig.node.json` (npm run
 * check:types): the server's event map types the handlers; each @ts-expect-error must fail to compile.
 */
import { expectTypeOf } from "vitest";
import { connectEventStream } from "../../src/client/index.ts";

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
