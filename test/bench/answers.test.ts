/**
 * `npm run bench:answers` in short: the real harness (server processes on a real redis-server,
 * raw-socket readers, /proc readings, report) against edge-sse on Node in memory and on Redis and
 * against resumable-stream on Redis, with a few answers of a few tokens; then the producer killed
 * under readers on another process, for both. It checks that every token reaches every reader, what
 * each reader got when the producer died, and that the report is built from what was measured; the
 * figures themselves are for docs/benchmarks-answers.md, never asserted.
 */
import { describe, expect, it } from "vitest";
import type { AnswerPace } from "../../bench/answers/chunks.ts";
import {
  ANSWERS_TARGETS,
  type AnswersMeasurement,
  measureAnswers,
  measureProducerDeath,
  RESUMABLE_STREAM,
} from "../../bench/answers.ts";
import { renderAnswersReport } from "../../bench/answers-report.ts";

const ANSWERS = 6;
const READERS = 3;
const PACE: AnswerPace = { tokens: 20, tokenMs: 50 };
const onNode = ANSWERS_TARGETS.filter((t) => t.runtime === "node");
const byName = (stack: string, backend: string) =>
  onNode.find((t) => t.stack === stack && t.backend === backend) as (typeof onNode)[0];

describe("the resumable answers benchmark, in short", () => {
  it("delivers every token of every answer to each of its readers, on edge-sse and resumable-stream, and reports both", async () => {
    const targets = [byName("edge-sse", "memory"), byName("edge-sse", "redis"), byName(RESUMABLE_STREAM, "redis")];
    const results: AnswersMeasurement[] = [];
    for (const target of targets) results.push(await measureAnswers(target, ANSWERS, READERS, PACE));

    for (const result of results) {
      expect(result.n).toBe(ANSWERS * READERS);
      expect(result.failedReaders).toBe(0);
      expect(result.lost).toBe(0);
      expect(result.offeredTokensPerSecond).toBe((ANSWERS * READERS * 1000) / PACE.tokenMs);
      expect(result.deliveredTokensPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(result.p99)).toBe(true);
    }
    const [memory, redis, peer] = results as [AnswersMeasurement, AnswersMeasurement, AnswersMeasurement];
    expect(memory.redisBytesPerAnswer).toBeUndefined();
    expect(redis.redisBytesPerAnswer).toBeDefined();
    expect(peer.redisBytesPerAnswer).toBeDefined();

    // The same measurements as two rounds: the target table shows each round's ratio beside the medians'.
    const report = renderAnswersReport({
      started: "",
      command: "test",
      machine: "test",
      runs: 2,
      pace: PACE,
      results,
      rounds: [results, results],
      survival: [],
    });
    const tokens = (m: AnswersMeasurement) => Math.round(m.deliveredTokensPerSecond).toLocaleString("en");
    const ratio = (redis.deliveredTokensPerSecond / peer.deliveredTokensPerSecond).toFixed(2);
    expect(report).toContain(
      `| ${RESUMABLE_STREAM} (Node, Redis) | ${ANSWERS} | ${READERS} | ${tokens(peer)} of 360 |`,
    );
    expect(report).toContain(
      `| **edge-sse** Node, Redis | ${ANSWERS} | ${READERS} | ${tokens(redis)} (${ratio}×) of 360 |`,
    );
    expect(report).toContain(
      `| A = ${ANSWERS}, R = ${READERS}: delivered tokens/s | ${ratio}× | ${ratio}×, ${ratio}× |`,
    );
    const p99 = (redis.p99 / peer.p99).toFixed(2);
    const ahead =
      p99 === "1.00"
        ? "**level**, not ahead (ahead in 0 of 2 rounds)"
        : redis.p99 < peer.p99
          ? "met (ahead in 2 of 2 rounds)"
          : "**missed** (ahead in 0 of 2 rounds)";
    expect(report).toContain(
      `| A = ${ANSWERS}, R = ${READERS}: p99 append to receive | ${p99}× | ${p99}×, ${p99}× | ${ahead} |`,
    );
    expect(report).toContain("## What an answer survives");
  }, 120_000);

  it("kills the producing process under readers on another process: edge-sse's readers end with the producer-gone error, resumable-stream's are left open", async () => {
    const deadlineMs = 20_000;
    const ours = await measureProducerDeath(
      byName("edge-sse", "redis"),
      3,
      { tokens: 100, tokenMs: 50 },
      { deadlineMs },
    );
    const theirs = await measureProducerDeath(
      byName(RESUMABLE_STREAM, "redis"),
      3,
      { tokens: 100, tokenMs: 50 },
      {
        deadlineMs,
      },
    );

    for (const run of [ours, theirs]) {
      expect(run.tokensAtDeath).toBeGreaterThan(0);
      expect(run.tokensAtDeath).toBeLessThan(100);
    }
    // Ours: every reader on B got what was stored before the death, then a clear end.
    for (const reader of ours.followers) {
      expect(reader.status).toBe(200);
      expect(reader.done).toBe(true);
      expect(reader.error).toMatch(/the process that generated it is gone/);
      expect(reader.tokens).toBeGreaterThan(0);
    }
    expect(ours.late).toMatchObject({ status: 200, done: true });
    expect(ours.late.tokens).toBeGreaterThan(0);
    // resumable-stream: its chunks lived in A; B's readers get no end (the sentinel says "in flight"
    // for 24 h), and a reader that comes later gets no answer.
    for (const reader of theirs.followers) {
      expect(reader.open).toBe(true);
      expect(reader.done).toBe(false);
    }
    expect(theirs.late.done).toBe(false);

    const report = renderAnswersReport({
      started: "",
      command: "test",
      machine: "test",
      runs: 1,
      pace: PACE,
      results: [],
      survival: [ours, theirs],
    });
    expect(report).toContain("3 of 3: ended with `[DONE]` after the error");
    expect(report).toContain("3 of 3: still open, no end");
  }, 180_000);
});
