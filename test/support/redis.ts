/**
 * A real redis-server of the test's own: on a free loopback port, with its data in a fresh
 * temporary folder (an append-only file fsynced on every write, so a restart keeps everything
 * acknowledged, unless `durable: false`), stopped and removed afterwards. Never a shared Redis.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { freePort, onAnotherPortIfTaken } from "./process-group.ts";

export interface RunningRedis {
  url: string;
  port: number;
  /** Runs one command on a connection of the test's own. */
  command(...args: string[]): Promise<unknown>;
  /**
   * Stops redis-server: SIGTERM (the default) lets it write its files and exit; SIGKILL is a crash,
   * after which only what its append-only file had fsynced comes back.
   */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same port and folder, with what it had written. */
  restart(): Promise<void>;
  /**
   * Pauses it (SIGSTOP): its connections stay open and nothing answers, as with a process that hangs
   * or a network that drops packets without a reset. `resume()` (SIGCONT) lets it go on.
   */
  pause(): void;
  resume(): void;
  /** Stops it for good and removes its folder. */
  dispose(): Promise<void>;
}

export interface RedisOptions {
  /**
   * false: no persistence at all (`--save "" --appendonly no`), as the benchmark runs it: it
   * measures the hub, not the disk, and a restart then starts empty. Default true.
   */
  durable?: boolean;
}

export async function startRedis({ durable = true }: RedisOptions = {}): Promise<RunningRedis> {
  const dir = mkdtempSync(join(tmpdir(), "edge-sse-redis-"));
  let port = 0;
  let child: ChildProcess | undefined;
  let output = "";

  const launch = async () => {
    const wanted = await freePort("127.0.0.1", port);
    child = spawn(
      "redis-server",
      [
        "--port",
        String(wanted),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        ...(durable ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]),
        "--maxmemory-policy",
        "noeviction",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    const deadline = Date.now() + 10_000;
    while (!output.includes("Ready to accept connections")) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    running.kill(signal);
    await once(running, "exit");
  };

  // The first start only, each attempt on a port of its own: restarts keep the port the clients know.
  await onAnotherPortIfTaken(
    async () => {
      port = await freePort("127.0.0.1");
      await launch();
    },
    async () => {
      await stop("SIGKILL");
      output = "";
    },
  );
  const client = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: 100 } });
  client.on("error", () => {
    // Expected while the server is stopped; commands fail and the test sees that.
  });
  await client.connect();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    command: (...args) => client.sendCommand(args),
    stop,
    restart: launch,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
    async dispose() {
      child?.kill("SIGCONT");
      client.destroy();
      await stop("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
