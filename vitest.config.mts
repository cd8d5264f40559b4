import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // Pure code under Node: the encoder against a real spec parser, the stream lifecycle.
        // Timeouts far above what a test needs on a quiet machine: a loaded CI machine must not fail a test
        // that is merely slow (vitest's 5 s default did, for the fuzz tests).
        test: {
          name: "unit",
          include: ["test/{sse,hono,hub,app,log,streams,client,ai,node}/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The Worker inside workerd (miniflare), with wrangler.toml's flags and bindings.
        // Small shards, a per-client cap below two shards' worth and a short history, so that shards,
        // the caps over a whole channel and trimmed history are exercised (test/workers/channel-objects.test.ts).
        // No publish rate limit: every test's posts come from one "unknown" address, and a fixed window of
        // 600 a minute failed a fast machine's run while a slow one passed. The limit itself is tested in
        // test/workers/authorization.test.ts with an app of its own.
        plugins: [
          cloudflareTest({
            main: "./src/runtime/worker.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                SHARD_SUBSCRIBERS: "10",
                MAX_STREAMS_PER_CLIENT: "15",
                HISTORY_LIMIT: "100",
                PUBLISH_RATE_LIMIT: "0",
              },
            },
          }),
        ],
        test: { name: "workers", include: ["test/workers/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        // Real server processes: wrangler dev, Node, Bun and Deno, each on a free loopback port.
        test: {
          name: "runtimes",
          include: ["test/runtimes/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        // What users run it with: headless Chromium on the demo page, and nginx in front; and the
        // benchmark harness, in short.
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts", "test/bench/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
      {
        // The packed tarball installed in a fresh project, as users get it: plain Node, Bun, Deno and
        // workerd, TypeScript consumers, publint and attw. One `npm pack` per run (setup.ts).
        test: {
          name: "package",
          include: ["test/package/**/*.test.ts"],
          globalSetup: ["test/package/setup.ts"],
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
      {
        // Steady publishing with churn for 60 s on Node and Bun: `npm run soak` in short.
        test: { name: "soak", include: ["test/soak/**/*.test.ts"], testTimeout: 240_000 },
      },
    ],
  },
});
