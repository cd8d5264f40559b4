/**
 * A response's watch of its stream (StreamChanges): what a waiting reader is told, and when it stops
 * waiting. On fake timers: the deadlines are the test's, not the machine's.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LogChange, StreamLog } from "../../src/hub/log.ts";
import { StreamChanges } from "../../src/streams/changes.ts";

/** A log of which the test tells watchers what it wants; only `watch` is used. */
function watchedLog() {
  const listeners = new Set<(change: LogChange) => void>();
  const log = {
    watch(_name: string, listener: (change: LogChange) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as StreamLog;
  const tell = (change: LogChange) => {
    for (const listener of listeners) listener(change);
  };
  return { log, tell, listeners };
}

const appended = (from: number): LogChange => ({
  kind: "appended",
  from,
  entries: [new Uint8Array([from])],
  record: {} as Extract<LogChange, { kind: "appended" }>["record"],
});

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("StreamChanges", () => {
  it("wakes a waiting reader with every change since it last looked, and answers at once when some are there", async () => {
    const { log, tell } = watchedLog();
    const changes = new StreamChanges(log, "s");
    const signal = new AbortController().signal;
    const waiting = changes.next(10_000, signal);
    tell(appended(0));
    tell(appended(1));
    expect(await waiting).toEqual([appended(0), appended(1)]);
    tell(appended(2));
    expect(await changes.next(10_000, signal)).toEqual([appended(2)]);
    changes.stop();
  });

  it("stops waiting at the deadline of each wait, a later one than the first's included", async () => {
    const { log, tell } = watchedLog();
    const changes = new StreamChanges(log, "s");
    const signal = new AbortController().signal;
    const first = changes.next(1_000, signal);
    await vi.advanceTimersByTimeAsync(500);
    tell(appended(0));
    expect(await first).toEqual([appended(0)]);
    let second: LogChange[] | undefined | "waiting" = "waiting";
    void changes.next(1_500, signal).then((changed) => {
      second = changed;
    });
    await vi.advanceTimersByTimeAsync(600);
    expect(second).toBe("waiting");
    await vi.advanceTimersByTimeAsync(400);
    expect(second).toBeUndefined();
    changes.stop();
  });

  it("stops waiting when the signal aborts, and when stopped", async () => {
    const { log, listeners } = watchedLog();
    const changes = new StreamChanges(log, "s");
    const controller = new AbortController();
    const waiting = changes.next(10_000, controller.signal);
    controller.abort();
    expect(await waiting).toBeUndefined();
    expect(await changes.next(10_000, controller.signal)).toBeUndefined();
    const other = new StreamChanges(log, "s");
    const stopped = other.next(10_000, new AbortController().signal);
    other.stop();
    expect(await stopped).toBeUndefined();
    changes.stop();
    expect(listeners.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("arms one timer and one abort listener for all of a response's waits, not one per wait", async () => {
    const { log, tell } = watchedLog();
    const changes = new StreamChanges(log, "s");
    const signal = new AbortController().signal;
    const setTimer = vi.spyOn(globalThis, "setTimeout");
    const listen = vi.spyOn(signal, "addEventListener");
    for (let from = 0; from < 100; from++) {
      const waiting = changes.next(Date.now() + 15_000, signal);
      await vi.advanceTimersByTimeAsync(50);
      tell(appended(from));
      expect(await waiting).toEqual([appended(from)]);
    }
    expect(setTimer).toHaveBeenCalledTimes(1);
    expect(listen).toHaveBeenCalledTimes(1);
    changes.stop();
  });
});
