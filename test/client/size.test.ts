/**
 * What edge-sse/client costs a page: bundled and minified with esbuild (eventsource-parser included),
 * then gzipped. The budget is 6 KB.
 */
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { expect, it } from "vitest";

const BUDGET_BYTES = 6 * 1024;

it(`weighs under ${BUDGET_BYTES} bytes minified and gzipped, with its parser`, async () => {
  const result = await build({
    entryPoints: ["src/client/index.ts"],
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    write: false,
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const gzipped = gzipSync(code, { level: 9 }).byteLength;
  console.log(`edge-sse/client: ${code.byteLength} bytes minified, ${gzipped} gzipped`);
  expect(gzipped).toBeLessThan(BUDGET_BYTES);
});
