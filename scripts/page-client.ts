/**
 * static/client.js: edge-sse/client (src/client) bundled as one ES module for the demo page, which
 * has no build step and imports it from `/client.js`. It is checked in, so that `npm start` on a fresh
 * clone serves it on every runtime with nothing to build first: Node, Bun and Deno serve static/ as it
 * is, and on Workers static/ is the assets directory (wrangler.toml), served before the Worker runs.
 * `npm run build:client` writes it again; test/client/page-client.test.ts fails when it is stale.
 * Not minified, so that the page's source reads in a browser and a change of the client shows as a
 * readable diff.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export const PAGE_CLIENT = fileURLToPath(new URL("../static/client.js", import.meta.url));

const BANNER =
  "// edge-sse/client for the demo page: made from src/client by `npm run build:client` (scripts/page-client.ts).\n" +
  "// Do not edit: test/client/page-client.test.ts fails when it differs from what the script makes.";

/** The bundle as the script writes it (esbuild is pinned, so the same source gives the same bytes). */
export async function pageClient(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("../src/client/index.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    banner: { js: BANNER },
    // esbuild's comments name each file relative to the checkout, by the path it was found under
    // (node_modules/..., not where a symlinked node_modules points), so any checkout makes the same bytes.
    absWorkingDir: fileURLToPath(new URL("..", import.meta.url)),
    preserveSymlinks: true,
    write: false,
  });
  return result.outputFiles[0]?.text ?? "";
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const made = await pageClient();
  if (!existsSync(PAGE_CLIENT) || readFileSync(PAGE_CLIENT, "utf8") !== made) writeFileSync(PAGE_CLIENT, made);
}
