/**
 * A TypeScript user of the installed package: consumer/consumer.ts type-checks under
 * `moduleResolution` nodenext and bundler (with @types/node), consumer/worker-consumer.ts against
 * @cloudflare/workers-types. Its @ts-expect-error lines make tsc fail if a wrong event compiles.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";

const run = promisify(execFile);
const tsc = resolve(import.meta.dirname, "../../node_modules/.bin/tsc");

async function typeCheck(config: string): Promise<string> {
  try {
    await run(tsc, ["-p", config], { cwd: inject("consumer") });
    return "";
  } catch (error) {
    return (error as { stdout: string }).stdout;
  }
}

describe.concurrent("a TypeScript consumer", () => {
  it.each(["nodenext", "bundler", "workers"])("type-checks under tsconfig.%s.json", async (config) => {
    expect(await typeCheck(`tsconfig.${config}.json`)).toBe("");
  });
});
