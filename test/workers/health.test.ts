/**
 * The probes in workerd: `/healthz` and `/readyz` answer 200 JSON without a token (a Worker has no
 * shutdown of its own and its hub no backend to lose), and there is no `/metrics` on Workers.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const get = (path: string) => exports.default.fetch(new Request(`http://edge-sse.test${path}`));

describe("health probes in workerd", () => {
  it.each([
    ["/healthz", { status: "ok" }],
    ["/readyz", { status: "ready" }],
  ])(
    "GET %s answers 200 %j",
    async (path, body) => {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(body);
    },
    30_000,
  ); // the first request builds the app in a fresh isolate: slow on a loaded machine

  it("has no /metrics: Workers Logs and the JSON log lines stand in (docs/operations.md)", async () => {
    const response = await get("/metrics");
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});
