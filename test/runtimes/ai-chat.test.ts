/**
 * The demo chat's resumable answers with the AI SDK's own client (`ai` 6, pinned) against the demo
 * server as a real process on Node, Bun and Deno (the in-memory log): the cases of
 * test/support/ai-chat.ts. The Worker's run in ai-chat-workers.test.ts.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { chatCases } from "../support/ai-chat.ts";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";

const DELAY_MS = 20;
const SETTINGS = { DEMO_MODEL_DELAY_MS: String(DELAY_MS), PUBLISH_RATE_LIMIT: "0" };

describe.each<Runtime>(["node", "bun", "deno"])("resumable AI answers on %s", (runtime) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(runtime, SETTINGS);
  });
  afterAll(async () => {
    await server?.stop();
  });

  chatCases(() => server, DELAY_MS);
});
