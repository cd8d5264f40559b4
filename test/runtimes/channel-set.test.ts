/**
 * Several channels in one stream on real server processes: Node, Bun and Deno on their in-memory
 * hub, and a Node and a Bun process on one real redis-server with authorization on, the stream read
 * from one process while every message is published to the other. The cases are test/support/channel-set-cases.ts,
 * as in-process and inside workerd.
 */
import { sign } from "hono/jwt";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  type ChannelSetTarget,
  endsWhenTokenExpires,
  everyMessageOnceInOrder,
  refusesBadCursors,
  refusesUnauthorizedChannel,
  resumesFromCursor,
  truncatedPerChannel,
  withAdminToken,
} from "../support/channel-set-cases.ts";
import { type RunningRedis, startRedis } from "../support/redis.ts";
import { type RunningServer, type Runtime, startServer } from "../support/server.ts";

const HISTORY_LIMIT = 5;
const SECRET = "a-runtimes-test-secret-of-32-bytes!";
const admin = () => sign({ sub: "admin", sse: { publish: ["*"], subscribe: ["*"] } }, SECRET);
const token = (subscribe: string[], exp = Math.floor(Date.now() / 1000) + 60) =>
  sign({ sub: "reader", exp, sse: { subscribe } }, SECRET);
const SETTINGS = { HISTORY_LIMIT: String(HISTORY_LIMIT), PUBLISH_RATE_LIMIT: "0" };

/** Streams from `reader`; publishes (and everything else) through `publisher`. */
const across = (reader: RunningServer, publisher = reader): ChannelSetTarget => ({
  historyLimit: HISTORY_LIMIT,
  request: (path, init) =>
    fetch(`${(path.startsWith("/api/stream") ? reader : publisher).url}${path}`, {
      ...init,
      signal: AbortSignal.timeout(60_000),
    }),
});

function cases(target: () => ChannelSetTarget) {
  it("delivers every message of each channel once and in order under concurrent publishers", () =>
    everyMessageOnceInOrder(target()));
  it("resumes each channel after its own position in the cursor", () => resumesFromCursor(target()));
  it("announces history-truncated only for the channel whose history no longer reaches the cursor", () =>
    truncatedPerChannel(target()));
  it("answers a forged or malformed cursor with 400 invalid_cursor and follows nothing", () =>
    refusesBadCursors(target()));
}

describe.each<Runtime>(["node", "bun", "deno"])("GET /api/stream on %s in memory", (runtime) => {
  let server: RunningServer | undefined;
  beforeAll(async () => {
    server = await startServer(runtime, SETTINGS);
  });
  afterAll(() => server?.stop());
  cases(() => across(server as RunningServer));
});

describe("GET /api/stream on Redis with authorization on, read from Node, published to Bun", () => {
  let redis: RunningRedis | undefined;
  let node: RunningServer | undefined;
  let bun: RunningServer | undefined;
  beforeAll(async () => {
    redis = await startRedis({ durable: false });
    const settings = { ...SETTINGS, REDIS_URL: redis.url, AUTH_SECRET: SECRET };
    [node, bun] = await Promise.all([startServer("node", settings), startServer("bun", settings)]);
  });
  afterAll(async () => {
    await Promise.all([node?.stop(), bun?.stop()]);
    await redis?.dispose();
  });
  const target = () => withAdminToken(across(node as RunningServer, bun as RunningServer), admin);
  cases(target);
  it("refuses the whole stream with 403 naming the refused channel, and streams nothing", () =>
    refusesUnauthorizedChannel(target(), token));
  it("ends when the token expires, with token-expired, and sends nothing published after", () =>
    endsWhenTokenExpires(target(), token));
});
