/**
 * `npm run bench:streams` in short: the real harness (server processes, raw-socket readers, /proc
 * readings, report) against Electric's reference server and edge-sse on Node in memory and on a real
 * redis-server, and the durable pair (the reference on disk, edge-sse on a redis-server that fsyncs
 * every write), with a few readers and a few hundred appends. It checks that every append is counted
 * and every event delivered, and that the report is built from what was measured; the figures
 * themselves are for docs/benchmarks-streams.md, never asserted.
 */
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import {
  APPENDS_FLOOR,
  type AppendsMeasurement,
  type FanoutMeasurement,
  measureAppends,
  measureFanout,
  REFERENCE,
  STREAMS_TARGETS,
  type StreamsPlan,
} from "../../bench/streams.ts";
import { renderStreamsReport } from "../../bench/streams-report.ts";

const N = 40;
const PLAN: StreamsPlan = {
  appends: 200,
  appendRounds: 1,
  burstEvents: 2_000,
  steadyEventsPerSecond: 400,
  steadyMessages: 4,
};

describe("the durable streams benchmark, in short", () => {
  it("counts every append and delivers every append to every live reader, on edge-sse and the reference, and reports both", async () => {
    const targets = STREAMS_TARGETS.filter((t) => t.target.runtime === "node");
    expect(targets.map((t) => `${t.target.stack} ${t.backend}${t.durable ? " durable" : ""}`)).toEqual([
      `${APPENDS_FLOOR} memory`,
      `${REFERENCE} memory`,
      "edge-sse memory",
      "edge-sse redis",
      `${REFERENCE} disk durable`,
      "edge-sse redis durable",
    ]);
    const leftOnDisk = () => readdirSync(tmpdir()).filter((name) => name.startsWith("durable-streams-reference-"));
    const before = leftOnDisk();
    const appends = [];
    const fanout: FanoutMeasurement[] = [];
    for (const target of targets) {
      appends.push(await measureAppends(target, PLAN));
      if (!target.appendsOnly) fanout.push(await measureFanout(target, N, PLAN));
    }

    for (const result of appends) {
      expect(result.failures).toBe(0);
      expect(result.appends).toBe(PLAN.appends);
      expect(result.oneWriter).toBeGreaterThan(0);
      expect(result.eightWritersOneStream).toBeGreaterThan(0);
      expect(result.eightWritersEightStreams).toBeGreaterThan(0);
    }
    for (const result of fanout) {
      expect(result.n).toBe(N);
      expect(result.publishFailures).toBe(0);
      expect(result.burstLost).toBe(0);
      expect(result.steadyLost).toBe(0);
      expect(result.eventsPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(result.steadyP99)).toBe(true);
    }
    const [reference, memory, redis, referenceOnDisk, redisDurable] = fanout as FanoutMeasurement[] as [
      FanoutMeasurement,
      FanoutMeasurement,
      FanoutMeasurement,
      FanoutMeasurement,
      FanoutMeasurement,
    ];
    expect(reference.redisCpuMicrosPerEvent).toBeUndefined();
    expect(redis.redisCpuMicrosPerEvent).toBeGreaterThanOrEqual(0);
    expect([referenceOnDisk.durable, redisDurable.durable, redis.durable]).toEqual([true, true, undefined]);
    // The reference on disk kept its streams in a folder of its own, removed when it stopped.
    expect(leftOnDisk()).toEqual(before);

    const report = renderStreamsReport({
      started: "",
      command: "test",
      machine: "test",
      runs: 1,
      plan: PLAN,
      appends,
      fanout,
    });
    const events = (m: FanoutMeasurement) => Math.round(m.eventsPerSecond).toLocaleString("en");
    const ratio = (memory.eventsPerSecond / reference.eventsPerSecond).toFixed(2);
    expect(report).toContain(`| ${REFERENCE} (reference) | ${N} | ${events(reference)} |`);
    expect(report).toContain(`| **edge-sse** Node, memory | ${N} | ${events(memory)} (${ratio}×) |`);
    expect(report).toContain(`| in memory | N = ${N}: delivered events/s | ${ratio}× |`);
    expect(report).toContain(`| **edge-sse** Node, Redis | ${N} | ${events(redis)} (`);
    const [floor, , ours] = appends as [AppendsMeasurement, AppendsMeasurement, AppendsMeasurement];
    const oneWriter = Math.round(ours.oneWriter).toLocaleString("en");
    expect(report).toContain(`| **edge-sse** Node, memory | ${oneWriter} (`);
    // The floor is a row of its own, without a ratio, and the share of it each server reached is said.
    const floorRate = Math.round(floor.oneWriter).toLocaleString("en");
    expect(report).toMatch(new RegExp(`\\| ${APPENDS_FLOOR} \\([^|]*\\| ${floorRate} \\|`));
    expect(report).toContain(
      `edge-sse on Node in memory reached ${Math.round((ours.oneWriter / floor.oneWriter) * 100)}%`,
    );
    // The targets compare edge-sse with the reference, never the floor (a Node server in memory too).
    const [, referenceAppends] = appends as [AppendsMeasurement, AppendsMeasurement];
    const appendsRatio = (ours.oneWriter / referenceAppends.oneWriter).toFixed(2);
    expect(report).toContain(`| in memory | appends/s, 1 writer | ${appendsRatio}× |`);
    // On disk, edge-sse on a Redis that fsyncs every write is compared with the reference on disk.
    const [, , , , referenceAppendsOnDisk, oursDurable] = appends as AppendsMeasurement[] as AppendsMeasurement[];
    const durableRatio = (
      (oursDurable as AppendsMeasurement).oneWriter / (referenceAppendsOnDisk as AppendsMeasurement).oneWriter
    ).toFixed(2);
    expect(report).toContain(`| on disk, every 2xx fsynced | appends/s, 1 writer | ${durableRatio}× |`);
    const durableEvents = (redisDurable.eventsPerSecond / referenceOnDisk.eventsPerSecond).toFixed(2);
    expect(report).toContain(
      `| **edge-sse** Node, Redis (appendfsync always) | ${N} | ${events(redisDurable)} (${durableEvents}×) |`,
    );
    expect(report).toContain(`| ${REFERENCE} (reference), on disk | ${N} | ${events(referenceOnDisk)} |`);
  }, 180_000);
});
