/**
 * `npm run bench` in short: the real harness (load client, servers started as processes, /proc
 * readings, report) against edge-sse and the node:http floor on Node, and edge-sse on a real
 * redis-server with one and with two processes, with a few subscribers.
 * It checks that every event is counted and the report is built from what was measured; the
 * figures themselves are for docs/benchmarks.md, never asserted.
 */
import { describe, expect, it } from "vitest";
import { throughputChart } from "../../bench/chart.ts";
import { renderReport } from "../../bench/report.ts";
import { type Measurement, measureOnce, type Plan } from "../../bench/run.ts";
import {
  EDGE_SSE,
  EDGE_SSE_REDIS,
  EDGE_SSE_REDIS_TWO,
  EDGE_SSE_WORKERD_DIRECT,
  PEERS,
  TARGETS,
} from "../../bench/targets.ts";

const N = 40;
const PLAN: Plan = { burstEvents: 2_000, steadyEventsPerSecond: 400, steadyMessages: 4 };

/** The report of a one-run benchmark of `results`, as `npm run bench` would write it. */
const reportOf = (results: Measurement[]) =>
  renderReport({ started: new Date().toISOString(), command: "test", machine: "test", runs: 1, ...PLAN, results });

describe("the benchmark, in short", () => {
  it("delivers every event to every subscriber on edge-sse and a peer, and reports both", async () => {
    const targets = TARGETS.filter(
      (target) => target.runtime === "node" && (target.stack === EDGE_SSE || target.stack === PEERS.nodeHttpFloor),
    );
    expect(targets).toHaveLength(2);
    const results = [];
    for (const target of targets) results.push(await measureOnce(target, N, PLAN));

    for (const result of results) {
      expect(result.n).toBe(N);
      expect(result.burstLost).toBe(0);
      expect(result.steadyLost).toBe(0);
      expect(result.burstEventsPerSecond).toBeGreaterThan(0);
      expect(result.burstCpuMicrosPerEvent).toBeGreaterThan(0);
      expect(result.rssWithSubscribers).toBeGreaterThan(0);
      // Every sampled subscriber timed its events.
      expect(Number.isFinite(result.steadyP99)).toBe(true);
      // The server's own count reached 0 after the subscribers left.
      expect(Number.isFinite(result.cleanupMs)).toBe(true);
    }

    const [ours, floor] = results as [(typeof results)[0], (typeof results)[0]];
    const report = reportOf(results);
    const throughput = Math.round(ours.burstEventsPerSecond).toLocaleString("en");
    const vsFloor = `${(ours.burstEventsPerSecond / floor.burstEventsPerSecond).toFixed(2)}×`;
    expect(report).toContain(`| **edge-sse** | ${throughput} |`);
    expect(report).toContain(`(${vsFloor})`);
    expect(report).toContain(`Node: ≥ 1.0× ${PEERS.nodeHttpFloor} | ${vsFloor}`);
    const chart = throughputChart(results);
    expect(chart).toMatch(/^<svg[^>]+viewBox/);
    expect(chart.match(/<polyline /g)).toHaveLength(2);
  });

  it("delivers every event on Redis, with the subscribers and publishes split over two processes, and reports both", async () => {
    const byStack = (stack: string) => TARGETS.find((target) => target.runtime === "node" && target.stack === stack);
    const targets = [byStack(EDGE_SSE), byStack(EDGE_SSE_REDIS), byStack(EDGE_SSE_REDIS_TWO)];
    const results = [];
    for (const target of targets) {
      expect(target).toBeDefined();
      results.push(await measureOnce(target as (typeof TARGETS)[0], N, PLAN));
    }
    const [memory, redis, two] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]];

    for (const result of results) {
      expect(result.publishFailures).toBe(0);
      expect(result.burstLost).toBe(0);
      expect(result.steadyLost).toBe(0);
      expect(Number.isFinite(result.steadyP99)).toBe(true);
      expect(Number.isFinite(result.cleanupMs)).toBe(true);
    }
    expect(memory.redisCpuMicrosPerEvent).toBeUndefined();
    expect(redis.redisCpuMicrosPerEvent).toBeGreaterThanOrEqual(0);
    expect(redis.processes).toBeUndefined();
    // Half the subscribers on each process, and publishes to both: every subscriber got every
    // message only because each process heard the other's through Redis.
    expect(two.processes).toBe(2);
    expect(two.subscribersPerProcess).toEqual([N / 2, N / 2]);

    const report = reportOf(results);
    const eventsRatio = `${(redis.burstEventsPerSecond / memory.burstEventsPerSecond).toFixed(2)}×`;
    expect(report).toContain(`| Node: delivered events/s ≥ 0.9× in memory | ${eventsRatio} |`);
    const p99Ratio = `${(redis.steadyP99 / memory.steadyP99).toFixed(2)}×`;
    expect(report).toContain(`| Node: p99 latency ≤ 1.5× in memory | ${p99Ratio} |`);
    expect(report).toContain(`| Bun: delivered events/s ≥ 0.9× in memory | not measured |`);
    expect(report).toContain(
      `| **${EDGE_SSE_REDIS}** | ${Math.round(redis.burstEventsPerSecond).toLocaleString("en")} |`,
    );
    const twoThroughput = Math.round(two.burstEventsPerSecond).toLocaleString("en");
    expect(report).toContain(`| Node + Node | ${N} | ${N / 2} + ${N / 2} | ${twoThroughput} |`);
    expect(throughputChart(results).match(/<polyline /g)).toHaveLength(3);
  }, 180_000); // four server processes and two redis-servers, one after another

  it("delivers every event through nchan inside nginx, and holds the in-memory hub's CPU per event against it", async () => {
    const nchan = TARGETS.find((target) => target.stack === PEERS.nchan);
    const ours = TARGETS.find((target) => target.runtime === "node" && target.stack === EDGE_SSE);
    expect(nchan?.runtime).toBe("nginx");
    // Ten times the burst: nchan's CPU for the short one can round to 0 clock ticks (10 ms).
    const plan = { ...PLAN, burstEvents: 10 * PLAN.burstEvents };
    const results = [];
    for (const target of [ours, nchan]) results.push(await measureOnce(target as (typeof TARGETS)[0], N, plan));
    const [memory, peer] = results as [(typeof results)[0], (typeof results)[0]];

    expect(peer.burstLost).toBe(0);
    expect(peer.steadyLost).toBe(0);
    expect(peer.publishFailures).toBe(0);
    expect(peer.burstCpuMicrosPerEvent).toBeGreaterThan(0);
    // nchan's own channel info counted the subscribers in and out.
    expect(Number.isFinite(peer.cleanupMs)).toBe(true);

    const report = renderReport({ started: "", command: "test", machine: "test", runs: 1, ...plan, results });
    const cpuRatio = `${(memory.burstCpuMicrosPerEvent / peer.burstCpuMicrosPerEvent).toFixed(2)}×`;
    expect(report).toContain(`| Node: CPU per delivered event below ${PEERS.nchan}'s | ${cpuRatio} |`);
    expect(report).toContain("**nginx (C)**");
  }, 120_000);
});

describe("the report's Workers targets at 5,000 and 10,000 subscribers", () => {
  const workerd = (stack: string, n: number, figures: Partial<Measurement>): Measurement => ({
    stack,
    runtime: "workerd",
    comparable: false,
    n,
    burstEventsPerSecond: 1,
    burstCpuMicrosPerEvent: 1,
    burstLost: 0,
    steadyLost: 0,
    steadyP50: 1,
    steadyP99: 1,
    burstP50: 1,
    burstP99: 1,
    rssIdleBase: 1,
    rssWithSubscribers: 1,
    bytesPerConnection: 1,
    rampMs: 1,
    cleanupMs: 1,
    completedRuns: 3,
    ...figures,
  });
  const direct = EDGE_SSE_WORKERD_DIRECT;

  it("judges each run count, loss, cleanup and the burst's p99 at N = 5000 from the measurements", () => {
    const report = renderReport({
      started: "",
      command: "test",
      machine: "test",
      runs: 3,
      ...PLAN,
      results: [
        workerd(EDGE_SSE, 5000, { completedRuns: 2, cleanupMs: 9_000 }),
        workerd(direct, 5000, { burstP99: 700, cleanupMs: 4_000 }),
        workerd(direct, 10_000, { burstLost: 5, cleanupMs: 12_000 }),
      ],
    });
    expect(report).toContain("| wrangler dev, N = 5,000: every stream opened in every run | 2 of 3 | **missed** |");
    expect(report).toContain("| wrangler dev, N = 5,000: counted gone within 10 s | 9.0 s | met |");
    expect(report).toContain("| workerd direct, N = 5,000: every stream opened in every run | 3 of 3 | met |");
    expect(report).toContain("| workerd direct, N = 10,000: nothing lost | 5 | **missed** |");
    expect(report).toContain("| workerd direct, N = 10,000: counted gone within 10 s | 12.0 s | **missed** |");
    expect(report).toContain("| workerd direct, N = 5,000: burst p99 under 500 ms | 700.0 ms | **missed** |");
    expect(report).toContain("| wrangler dev, N = 10,000 | no run completed:");
  });
});
