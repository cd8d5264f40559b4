/**
 * The end of the turn shared by a hub's channels (src/hub/end-of-turn.ts): every run scheduled in a
 * turn goes out in one task, and while they go, whether it is one alone (a multi-channel stream then
 * writes it at once).
 */
import { describe, expect, it } from "vitest";
import { EndOfTurn } from "../../src/hub/end-of-turn.ts";

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("EndOfTurn", () => {
  it("sends every run of the turn in one task, saying while they go whether one goes alone", async () => {
    const endOfTurn = new EndOfTurn();
    const seen: string[] = [];
    endOfTurn.schedule(() => seen.push(`a ${endOfTurn.sendingOne}`));
    endOfTurn.schedule(() => seen.push(`b ${endOfTurn.sendingOne}`));
    expect(endOfTurn.sendingOne).toBe(false);
    await nextTurn();
    expect(seen).toEqual(["a false", "b false"]);
    expect(endOfTurn.sendingOne).toBe(false);
    endOfTurn.schedule(() => seen.push(`c ${endOfTurn.sendingOne}`));
    await nextTurn();
    expect(seen.at(-1)).toBe("c true");
  });

  it("is no longer sending one once its run throws", async () => {
    const endOfTurn = new EndOfTurn();
    const failure = new Error("a run failed");
    const thrown = new Promise((resolve) => process.once("uncaughtException", resolve));
    endOfTurn.schedule(() => {
      throw failure;
    });
    await nextTurn();
    expect(endOfTurn.sendingOne).toBe(false);
    await thrown;
  });
});
