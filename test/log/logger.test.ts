/**
 * The structured logger: one JSON object per line with time, level and message first, the levels
 * below LOG_LEVEL silent, and secret-looking fields never written whoever passes them.
 */
import { describe, expect, it } from "vitest";
import { createLogger, LOG_LEVELS, type LogLevel, REDACTED } from "../../src/log/logger.ts";

function recorder(level: LogLevel) {
  const lines: { level: LogLevel; line: string }[] = [];
  const logger = createLogger(level, (lineLevel, line) => lines.push({ level: lineLevel, line }));
  return { logger, lines, parsed: () => lines.map(({ line }) => JSON.parse(line) as Record<string, unknown>) };
}

describe("createLogger", () => {
  it("writes one JSON object per line: time, level and message first, then the fields", () => {
    const { logger, lines, parsed } = recorder("debug");
    logger.info("stream dropped", { reason: "overflow", channel: "news", client: "127.0.0.1" });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.line).not.toContain("\n");
    const [entry] = parsed();
    expect(Object.keys(entry ?? {})).toEqual(["time", "level", "message", "reason", "channel", "client"]);
    expect(entry).toMatchObject({ level: "info", message: "stream dropped", reason: "overflow", channel: "news" });
    expect(new Date(String(entry?.time)).toISOString()).toBe(entry?.time);
  });

  it.each(LOG_LEVELS.map((level, index) => [level, LOG_LEVELS.slice(0, index + 1)] as const))(
    "at LOG_LEVEL=%s writes only %j",
    (level, written) => {
      const { logger, parsed } = recorder(level);
      for (const each of LOG_LEVELS) logger[each](`a ${each} line`);
      expect(parsed().map((entry) => entry.level)).toEqual(written);
    },
  );

  it("hands each line to the writer with its level (Workers Logs files lines by console method)", () => {
    const { logger, lines } = recorder("debug");
    logger.warn("w");
    logger.debug("d");
    expect(lines.map((line) => line.level)).toEqual(["warn", "debug"]);
  });

  it("never lets a field replace the time, level or message", () => {
    const { logger, parsed } = recorder("info");
    logger.info("real", { level: "error", message: "forged", time: "yesterday" });
    expect(parsed()[0]).toMatchObject({ level: "info", message: "real" });
    expect(parsed()[0]?.time).not.toBe("yesterday");
  });

  it("writes secret-looking fields as [redacted] at any depth, but keeps whether they are set", () => {
    const { logger, lines } = recorder("info");
    const secret = "s3cr3t-value-that-must-not-leak";
    logger.info("settings", {
      authSecret: secret,
      token: secret,
      headers: { authorization: `Bearer ${secret}`, cookie: `edge_sse_token=${secret}` },
      nested: [{ metricsToken: secret, password: secret }],
      authSecretSet: true,
    });
    expect(lines[0]?.line).not.toContain(secret);
    const entry = JSON.parse(lines[0]?.line ?? "{}");
    expect(entry).toMatchObject({
      authSecret: REDACTED,
      token: REDACTED,
      headers: { authorization: REDACTED, cookie: REDACTED },
      nested: [{ metricsToken: REDACTED, password: REDACTED }],
      authSecretSet: true,
    });
  });

  it("writes an error as its name, message and stack", () => {
    const { logger, parsed } = recorder("error");
    logger.error("unhandled error", { error: new TypeError("bad thing") });
    expect(parsed()[0]?.error).toMatchObject({ name: "TypeError", message: "bad thing", stack: expect.any(String) });
  });

  it("still writes the line when a field cannot be written as JSON", () => {
    const { logger, parsed } = recorder("info");
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    logger.info("odd fields", { cycle, big: 1n });
    expect(parsed()[0]).toMatchObject({ level: "info", message: "odd fields", logError: expect.any(String) });
  });
});
