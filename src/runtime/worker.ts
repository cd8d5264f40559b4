/**
 * Cloudflare Workers entry (`wrangler dev`, `wrangler deploy`). static/ is served as Workers
 * assets before this runs; settings come from `[vars]` in wrangler.toml or secrets.
 * wrangler.toml sets `enable_request_signal`: without it workerd never tells a stream that its
 * client left (see ../shared/FINDINGS.md).
 */
import { createApp } from "../app/app.ts";
import { readConfig } from "../config.ts";

let app: ReturnType<typeof createApp> | undefined;

export default {
  fetch(request, env, ctx) {
    // One app per isolate, built on first use because env is only known inside a request.
    app ??= createApp(readConfig(env));
    return app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Record<string, unknown>>;
