/**
 * What the log says when streams end, through OpenStreams' close hook and real event streams: a
 * failed source is an error line, a client that leaves is a debug line only (silent at info), and
 * nothing per stream is written at the default level.
 */
import { describe, expect, it } from "vitest";
import { createLogger, type LogLevel } from "../../src/log/logger.ts";
import { logStreamClosed } from "../../src/log/stream-log.ts";
import { eventStream, OpenStreams } from "../../src/sse/index.ts";
import { eventually, readEvents } from "../support/sse-reader.ts";

function logged(level: LogLevel) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(level, (_level, line) => lines.push(JSON.parse(line)));
  return { lines, openStreams: new OpenStreams(undefined, { onClosed: logStreamClosed(logger) }) };
}

describe("logStreamClosed", () => {
  it("writes a failed event source as one error line with the stream's kind, channel, client and error", async () => {
    const { lines, openStreams } = logged("info");
    const response = eventStream(
      () => {
        throw new Error("source broke");
      },
      { openStreams, kind: "feed", channel: "news", client: "192.0.2.1", keepAliveMs: 0 },
    );
    await response.text().catch(() => undefined);
    expect(await eventually(async () => lines.length, 1)).toBe(1);
    expect(lines[0]).toMatchObject({
      level: "error",
      message: "event source failed",
      reason: "source-error",
      kind: "feed",
      channel: "news",
      client: "192.0.2.1",
      error: { message: "source broke" },
    });
  });

  it.each([
    ["info", 0],
    ["debug", 1],
  ] as const)("at LOG_LEVEL=%s writes %i line for a client that leaves", async (level, count) => {
    const { lines, openStreams } = logged(level);
    const reader = readEvents(eventStream(() => undefined, { openStreams, kind: "ticker", keepAliveMs: 0 }));
    await reader.opened();
    await reader.cancel();
    expect(await eventually(async () => openStreams.activeStreams, 0)).toBe(0);
    expect(lines).toHaveLength(count);
    if (count > 0)
      expect(lines[0]).toMatchObject({ level: "debug", message: "stream closed", reason: "client-cancel" });
  });
});
