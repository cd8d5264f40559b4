/**
 * What follows from the settings' declarations (src/config.ts): the defaults, the whole-number limits,
 * the start-up log's redaction and README.md's table. Each setting's own errors are tested with its
 * feature (authorization.test.ts, operations.test.ts, redis-settings.test.ts).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { README, withSettingsTable } from "../../scripts/settings-table.ts";
import {
  DEFAULT_CONFIG,
  LISTEN_SETTINGS,
  publicSettings,
  readConfig,
  readListenAddress,
  SETTINGS,
} from "../../src/config.ts";

const settings = Object.entries(SETTINGS);
const wholeNumbers = settings.filter(([, setting]) => typeof setting.default === "number");
/** The whole numbers for which 0 means nothing (the others: off, at once, or no cap). */
const AT_LEAST_ONE = [
  "TICKER_INTERVAL_MS",
  "MAX_BUFFERED_BYTES",
  "MAX_BUFFERED_EVENTS",
  "HISTORY_LIMIT",
  "REDIS_TIMEOUT_MS",
  "MAX_CHANNELS_PER_STREAM",
  "SHARD_SUBSCRIBERS",
  "LONG_POLL_TIMEOUT_MS",
  "CHAT_ANSWER_TTL_SECONDS",
  "EVENT_MAX_BYTES",
  "IDEMPOTENCY_KEY_TTL_SECONDS",
];

describe("settings", () => {
  it("README.md's configuration table is the one the declarations make (npm run docs:settings writes it)", () => {
    const readme = readFileSync(README, "utf8");
    expect(readme, "README.md is out of date: run npm run docs:settings").toBe(withSettingsTable(readme));
  });

  it("gives each setting its own environment variable", () => {
    const names = [...Object.values(LISTEN_SETTINGS), ...Object.values(SETTINGS)].map((setting) => setting.env);
    expect(new Set(names).size).toBe(names.length);
  });

  it("reads an empty environment, and empty variables, as the defaults", () => {
    expect(readConfig({})).toEqual(DEFAULT_CONFIG);
    const empty = Object.fromEntries(settings.map(([, setting]) => [setting.env, ""]));
    // Set but empty, a list is the empty list: PRIVATE_CHANNELS= makes every channel public.
    expect(readConfig(empty)).toEqual({ ...DEFAULT_CONFIG, privateChannels: [], corsOrigins: [] });
    expect(readListenAddress({})).toEqual({ port: 8787, hostname: "127.0.0.1" });
  });

  it.each(wholeNumbers)("reads %s as a whole number, refusing fractions, signs and words", (key, setting) => {
    expect(readConfig({ [setting.env]: " 42 " })).toMatchObject({ [key]: 42 });
    for (const value of ["1.5", "-1", "+1", "1e3", "soon", "9007199254740993"]) {
      expect(() => readConfig({ [setting.env]: value })).toThrow(
        `${setting.env} must be a whole number, got ${JSON.stringify(value)}`,
      );
    }
  });

  it.each(wholeNumbers)("takes 0 for %s only where 0 means off, at once or no cap", (key, setting) => {
    if (AT_LEAST_ONE.includes(setting.env)) {
      expect(() => readConfig({ [setting.env]: "0" })).toThrow(`${setting.env} must be at least 1`);
    } else {
      expect(readConfig({ [setting.env]: "0" })).toMatchObject({ [key]: 0 });
    }
  });

  it("refuses a PORT above 65535", () => {
    expect(readListenAddress({ PORT: "8080", HOST: "0.0.0.0" })).toEqual({ port: 8080, hostname: "0.0.0.0" });
    expect(() => readListenAddress({ PORT: "65536" })).toThrow("PORT must be at most 65535, got 65536");
  });

  it("shows every setting at start-up, secrets only as set or not", () => {
    const secrets = settings.filter(([, setting]) => setting.secret);
    expect(secrets.map(([key]) => key)).toEqual(["authSecret", "metricsToken"]);
    const values = Object.fromEntries(secrets.map(([, setting]) => [setting.env, `${setting.env}-`.repeat(8)]));
    const shown = publicSettings(readConfig(values));
    for (const [key, setting] of secrets) {
      expect(shown).not.toHaveProperty(key);
      expect(shown[`${key}Set`]).toBe(true);
      expect(JSON.stringify(shown)).not.toContain(values[setting.env]);
    }
    expect(publicSettings(DEFAULT_CONFIG)).toMatchObject({ authSecretSet: false, metricsTokenSet: false });
    const others = settings.filter(([, setting]) => !setting.secret).map(([key]) => key);
    expect(Object.keys(publicSettings(DEFAULT_CONFIG)).sort()).toEqual(
      [...others, ...secrets.map(([key]) => `${key}Set`)].sort(),
    );
  });
});
