/**
 * The line a Node, Bun or Deno server logs once it listens: runtime, address, hub and its settings
 * without secrets (`publicSettings`), the same fields on every runtime so one query finds them all.
 */
import { type Config, publicSettings } from "../config.ts";
import type { Logger } from "./logger.ts";

export interface Listening {
  /** As in the message: Node, Bun or Deno. */
  runtimeName: string;
  version: string;
  hostname: string;
  port: number;
  /** Which hub serves the feed (see createServerApp). */
  hub: string;
}

export function logListening(logger: Logger, config: Readonly<Config>, listening: Listening): void {
  const { runtimeName, version, hostname, port, hub } = listening;
  const address = `http://${hostname}:${port}/`;
  logger.info(`edge-sse on ${runtimeName} ${version}: ${address}`, {
    runtime: runtimeName.toLowerCase(),
    version,
    address,
    hub,
    settings: publicSettings(config),
  });
}
