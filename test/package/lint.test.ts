/**
 * The tarball as registries and tools see it: publint (package.json fields, exports, files) and
 * Are the Types Wrong (each entry's types resolve under node16 and bundlers). ESM only, so attw's
 * `esm-only` profile: CommonJS `require` and node10 resolution are not offered.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";

const run = promisify(execFile);
const bin = (name: string) => resolve(import.meta.dirname, "../../node_modules/.bin", name);

describe("the packed tarball", () => {
  it("passes publint with nothing to report", async () => {
    const { stdout } = await run(bin("publint"), ["--strict", inject("tarball")]);
    expect(stdout).toContain("All good!");
  });

  it("passes Are the Types Wrong for every entry", async () => {
    // Exits non-zero (and so fails here) on any problem the profile counts.
    const { stdout } = await run(bin("attw"), ["--profile", "esm-only", "--format", "json", inject("tarball")]);
    const { analysis, problems } = JSON.parse(stdout);
    expect(Object.keys(analysis.entrypoints).sort()).toEqual([
      ".",
      "./ai",
      "./client",
      "./hono",
      "./hub",
      "./hub/redis",
      "./node",
      "./package.json",
      "./streams",
      "./workers",
    ]);
    // What the esm-only profile leaves out (and so does this package): `require` and node10.
    const ignored = new Set(["node10", "node16-cjs"]);
    const found = Object.values(problems as Record<string, { resolutionKind?: string }[]>)
      .flat()
      .filter((problem) => !ignored.has(problem.resolutionKind ?? ""));
    expect(found).toEqual([]);
  });
});
