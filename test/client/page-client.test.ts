/**
 * The demo page's copy of edge-sse/client (static/client.js, checked in so that every runtime serves
 * it with no build step) is what scripts/page-client.ts makes from src/client today.
 */
import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { PAGE_CLIENT, pageClient } from "../../scripts/page-client.ts";

it("static/client.js is the bundle of src/client as it is now (else: npm run build:client)", async () => {
  const checkedIn = await readFile(PAGE_CLIENT, "utf8");
  expect(checkedIn === (await pageClient()), "static/client.js is stale: run npm run build:client").toBe(true);
});
