/**
 * edge-sse's Worker on workerd without wrangler dev's proxy, for `npm run bench`: the bundle that
 * `wrangler deploy --dry-run` builds, served by Miniflare in one workerd process (wrangler dev puts
 * a second workerd and its own node process in front). Closer to production than wrangler dev,
 * still not production. Compatibility settings come from wrangler.toml; settings from the
 * environment (as `[vars]` would), PORT and HOST as for the other servers.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";

const root = join(import.meta.dirname, "..");
const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
const compatibilityDate = /^compatibility_date = "([^"]+)"/m.exec(toml)?.[1];
const compatibilityFlags = [
  ...(/^compatibility_flags = \[([^\]]*)\]/m.exec(toml)?.[1] ?? "").matchAll(/"([^"]+)"/g),
].map((match) => match[1] as string);
const SETTINGS = [
  "TICKER_INTERVAL_MS",
  "KEEP_ALIVE_MS",
  "RETRY_MS",
  "HISTORY_LIMIT",
  "MAX_STREAMS",
  "MAX_STREAMS_PER_CLIENT",
  "PUBLISH_RATE_LIMIT",
  "SHARD_SUBSCRIBERS",
];

// Inside the project (git-ignored): workerd refuses module paths that climb out of its directory.
const out = join(root, "dist", "bench-worker");
execFileSync(join(root, "node_modules", ".bin", "wrangler"), ["deploy", "--dry-run", "--outdir", out], {
  cwd: root,
  stdio: "ignore",
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});
const miniflare = new Miniflare({
  host: process.env.HOST || "127.0.0.1",
  port: Number(process.env.PORT ?? 8787),
  modules: true,
  scriptPath: join(out, "worker.js"),
  ...(compatibilityDate === undefined ? {} : { compatibilityDate }),
  compatibilityFlags,
  durableObjects: {
    CHANNELS: { className: "ChannelObject", useSQLite: true },
    CHANNEL_SHARDS: { className: "ChannelShard", useSQLite: true },
  },
  bindings: Object.fromEntries(SETTINGS.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : []))),
});
const url = await miniflare.ready;
console.log(`listening ${url}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    miniflare.dispose().finally(() => process.exit(0));
  });
}
