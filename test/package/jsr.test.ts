/**
 * JSR: what `deno publish` would upload (jsr.json's `publish.include`, with package.json for the
 * npm dependencies) passes its dry run, offline: Deno type-checks every export and lists the
 * files. Run from a copy of just those files, as JSR sees them, so that this repository's
 * tsconfig.json (workerd's types, for the demo) does not apply.
 *
 * `--allow-slow-types` until src/hub/memory.ts's methods have explicit types (the only slow types
 * the dry run reported; the file belongs to the hub's owners).
 * `edge-sse/workers` is npm-only: it imports `cloudflare:workers`, which only workerd resolves.
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, "../..");

describe("the JSR package", () => {
  it("passes deno publish --dry-run with the same exports as npm (but workers)", async () => {
    const jsr = JSON.parse(await readFile(join(ROOT, "jsr.json"), "utf8"));
    const npm = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    expect(Object.keys(jsr.exports)).toEqual(
      Object.keys(npm.exports).filter((entry) => entry !== "./workers" && entry !== "./package.json"),
    );
    expect(jsr.version).toBe(npm.version);

    const stage = await mkdtemp(join(tmpdir(), "edge-sse-jsr-"));
    try {
      for (const path of [...jsr.publish.include, "jsr.json", "package.json"]) {
        await cp(join(ROOT, path), join(stage, path), { recursive: true });
      }
      // npm dependencies from this repository's install: no network.
      await symlink(join(ROOT, "node_modules"), join(stage, "node_modules"));
      const deno = join(ROOT, "node_modules/.bin/deno");
      const { stdout, stderr } = await run(deno, ["publish", "--dry-run", "--allow-dirty", "--allow-slow-types"], {
        cwd: stage,
        env: { ...process.env, NO_COLOR: "1" },
      });
      const output = stdout + stderr;
      expect(output).toContain("Dry run complete");
      expect(output).toContain("src/sse/stream.ts");
      expect(output).not.toContain("src/app/");
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  });
});
