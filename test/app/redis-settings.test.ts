/** The Redis settings: what turns the Redis hub on, and the start-up errors a typo gets. */
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, publicSettings, readConfig } from "../../src/config.ts";

describe("REDIS_URL and REDIS_TIMEOUT_MS", () => {
  it("leaves Redis off by default, with a 2 s timeout", () => {
    expect(readConfig({})).toMatchObject({ redisUrl: "", redisTimeoutMs: 2_000 });
    expect(DEFAULT_CONFIG.redisUrl).toBe("");
  });

  it.each([
    "redis://127.0.0.1:6379",
    "redis://cache.internal",
    "redis://user:p%40ss@127.0.0.1:6380/2",
    "rediss://redis.example.com:6380",
    "redis://[::1]:6379/0",
  ])("takes %s", (url) => {
    expect(readConfig({ REDIS_URL: url, REDIS_TIMEOUT_MS: "500" })).toMatchObject({
      redisUrl: url,
      redisTimeoutMs: 500,
    });
  });

  it.each([
    ["http://127.0.0.1:6379", /REDIS_URL must look like redis:\/\//],
    ["127.0.0.1:6379", /REDIS_URL must look like redis:\/\//],
    ["redis://", /REDIS_URL must look like redis:\/\//],
    ["redis://:hunter2@127.0.0.1:99999", /REDIS_URL must look like redis:\/\//],
    ["redis://127.0.0.1:6379/cache", /REDIS_URL: the path must be a database number/],
  ])("stops start-up on %s, without repeating the URL", (url, message) => {
    let error: unknown;
    try {
      readConfig({ REDIS_URL: url });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(message);
    // The URL may carry a password: the message must not echo it.
    expect((error as Error).message).not.toContain("hunter2");
  });

  it.each(["0", "1.5", "soon"])("stops start-up on REDIS_TIMEOUT_MS=%s", (value) => {
    expect(() => readConfig({ REDIS_TIMEOUT_MS: value })).toThrow(/REDIS_TIMEOUT_MS must be/);
  });

  it("shows REDIS_URL in the start-up settings without its password", () => {
    const shown = publicSettings(readConfig({ REDIS_URL: "rediss://app:hunter2@cache.internal:6380/1" }));
    expect(shown.redisUrl).toBe("rediss://app:***@cache.internal:6380/1");
    expect(JSON.stringify(shown)).not.toContain("hunter2");
  });
});
