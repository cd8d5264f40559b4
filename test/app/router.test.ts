/**
 * The demo app's routes, all of them, fit Hono's RegExpRouter: one route it cannot take (a fixed
 * segment beside a parameter at the same depth) puts the whole app on the TrieRouter, which costs
 * every request, every durable stream append among them (see src/app/chat.ts).
 */
import { expect, it } from "vitest";
import { createApp } from "../../src/app/app.ts";
import { chatRoutesWith } from "../../src/app/chat.ts";
import { DEFAULT_CONFIG } from "../../src/config.ts";

it("routes the whole app, the chat's routes too, with Hono's RegExpRouter", async () => {
  const app = createApp(DEFAULT_CONFIG, { chat: chatRoutesWith(DEFAULT_CONFIG), serveAssets: (_c, next) => next() });
  // SmartRouter picks its router at the first request.
  expect((await app.request("/api/chat/stats")).status).toBe(200);
  expect(app.router.name).toBe("SmartRouter + RegExpRouter");
});

it("answers 404 for a page of the chat other than its stats", async () => {
  const app = createApp(DEFAULT_CONFIG, { chat: chatRoutesWith(DEFAULT_CONFIG) });
  const answer = await app.request("/api/chat/other");
  expect(answer.status).toBe(404);
  expect(await answer.json()).toMatchObject({ error: { code: "not_found" } });
});
