/**
 * Starts the app as a real server process under one runtime, exactly as the npm scripts do, on a
 * free loopback port; stops it (and everything it spawned) afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

export type Runtime = "workerd" | "node" | "bun" | "deno";
export const RUNTIMES: Runtime[] = ["workerd", "node", "bun", "deno"];

export interface RunningServer {
  runtime: Runtime;
  url: string;
  /** Everything the process printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Settings passed the way each runtime reads them: env vars, or `--var` for wrangler dev. */
export type Settings = Record<string, string>;

export async function startServer(runtime: Runtime, settings: Settings = {}): Promise<RunningServer> {
  const host = "127.0.0.1";
  const port = await freePort(host);
  const env = { ...process.env, PORT: String(port), HOST: host, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  let args: string[];
  if (runtime === "workerd") {
    const inspector = await freePort(host);
    const vars = Object.entries(settings).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
    args = ["start", "--", "--inspector-port", String(inspector), "--log-level", "warn", ...vars];
  } else {
    Object.assign(env, settings);
    args = ["run", `start:${runtime}`];
  }
  // detached: the server runs in a process group of its own, so stop() reaches npm's children too.
  const child = spawn("npm", ["--silent", ...args], { env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const url = `http://${host}:${port}`;
  const server: RunningServer = { runtime, url, output: () => output, stop: () => stopGroup(child) };
  try {
    await waitUntilServing(`${url}/api/stats`, child, 60_000);
  } catch (error) {
    await server.stop();
    throw new Error(`${runtime} did not start: ${(error as Error).message}\n${output}`);
  }
  return server;
}

async function freePort(host: string): Promise<number> {
  const probe = createServer();
  probe.listen(0, host);
  await once(probe, "listening");
  const address = probe.address();
  probe.close();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function waitUntilServing(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms`);
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  const exited = once(child, "exit");
  signalGroup(child.pid, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child.pid as number, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  // npm may exit before its children: make sure nothing of the group is left.
  signalGroup(child.pid, "SIGKILL");
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
