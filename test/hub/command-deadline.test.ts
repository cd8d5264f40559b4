/**
 * The deadline Redis commands race (src/hub/redis/command-deadline.ts), on vitest's fake clock: a
 * command that never answers is refused once its deadline passes, never before; commands sent within
 * a tenth of the timeout share one timer. A paused redis-server is in test/hub/redis.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CommandDeadline } from "../../src/hub/redis/command-deadline.ts";

const never = () => new Promise<never>(() => {});

describe("CommandDeadline", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("refuses a command that never answers once the timeout has passed, and not before", async () => {
    const deadline = new CommandDeadline(1000);
    const settled = vi.fn();
    const command = deadline.race(never()).catch((error: Error) => {
      settled(error.message);
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    await command;
    expect(settled).toHaveBeenCalledWith("Redis did not answer within 1000 ms");
  });

  it("answers what the command answers", async () => {
    await expect(new CommandDeadline(1000).race(Promise.resolve("PONG"))).resolves.toBe("PONG");
  });

  it("shares one timer among commands sent within a tenth of the timeout: each still gets 90% of it", async () => {
    const deadline = new CommandDeadline(1000);
    const start = performance.now();
    const refused: number[] = [];
    const send = () => deadline.race(never()).catch(() => refused.push(performance.now() - start));
    const first = send();
    await vi.advanceTimersByTimeAsync(99);
    const second = send();
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    const third = send(); // a tenth later: a deadline of its own
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(1000);
    await Promise.all([first, second, third]);
    expect(refused).toEqual([1000, 1000, 1100]);
  });
});
