/**
 * The end of the turn shared by a hub's channels (src/hub/end-of-turn.ts): every run scheduled in a
 * turn goes out in one task, and while they go, whether there are several (a multi-channel stream
 * gathers only then).
 */
import { describe, expect, it } from "vitest";
import { EndOfTurn } from "../../src/hub/end-of-turn.ts";

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("EndOfTurn", () => {
  it("sends every run of the turn in one task, saying while they go whether there are several", async () => {
    const endOfTurn = new EndOfTurn();
    const seen: string[] = [];
    endOfTurn.schedule(() => seen.push(`a ${endOfTurn.sendingSeveral}`));
    endOfTurn.schedule(() => seen.push(`b ${endOfTurn.sendingSeveral}`));
    expect(endOfTurn.sendingSeveral).toBe(false);
    await nextTurn();
    expect(seen).toEqual(["a true", "b true"]);
    expect(endOfTurn.sendingSeveral).toBe(false);
    endOfTurn.schedule(() => seen.push(`c ${endOfTurn.sendingSeveral}`));
    await nextTurn();
    expect(seen.at(-1)).toBe("c false");
  });

  it("is no longer sending several once a run throws", async () => {
    const endOfTurn = new EndOfTurn();
    const failure = new Error("a run failed");
    const thrown = new Promise((resolve) => process.once("uncaughtException", resolve));
    endOfTurn.schedule(() => {
      throw failure;
    });
    endOfTurn.schedule(() => {});
    await nextTurn();
    expect(endOfTurn.sendingSeveral).toBe(false);
    await thrown;
  });
});
