/**
 * Starts the app as a real server process under one runtime, exactly as the npm scripts do, on a
 * free loopback port (or a given one, to restart a server where its clients expect it); stops it
 * (and everything it spawned) afterwards.
 */
import {
  freePort,
  groupExited,
  onAnotherPortIfTaken,
  signalGroup,
  spawnGroup,
  stopGroup,
  waitUntilServing,
} from "./process-group.ts";

export type Runtime = "workerd" | "node" | "bun" | "deno";
export const RUNTIMES: Runtime[] = ["workerd", "node", "bun", "deno"];

export interface RunningServer {
  runtime: Runtime;
  url: string;
  /** Everything the process printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
  /** Sends `signal` once to the server's whole process group (npm and the runtime), as a supervisor does. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves true once every process of the server has exited by itself, false if any is left after `timeoutMs`. */
  exited(timeoutMs: number): Promise<boolean>;
}

/** Settings passed the way each runtime reads them: env vars, or `--var` for wrangler dev. */
export type Settings = Record<string, string>;

export interface StartOptions {
  /** Listen here instead of on a free port: a restarted server is found where its clients left it. */
  port?: number;
  /** workerd only: more `wrangler dev` flags, such as `--persist-to <dir>`. */
  args?: string[];
  /** workerd only: wrangler dev's `--log-level` (default `warn`); `log` shows what the Worker logs. */
  wranglerLogLevel?: string;
}

export function startServer(
  runtime: Runtime,
  settings: Settings = {},
  options: StartOptions = {},
): Promise<RunningServer> {
  const start = () => startServerOnce(runtime, settings, options);
  // A port of our choosing may be taken before the server binds it: then another one.
  return options.port === undefined ? onAnotherPortIfTaken(start) : start();
}

async function startServerOnce(runtime: Runtime, settings: Settings, options: StartOptions): Promise<RunningServer> {
  const host = "127.0.0.1";
  // A fixed port must be free: otherwise the readiness check below would be answered by whoever holds it.
  const port = await freePort(host, options.port);
  const env = { ...process.env, PORT: String(port), HOST: host, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  let args: string[];
  if (runtime === "workerd") {
    const inspector = await freePort(host);
    const vars = Object.entries(settings).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
    args = [
      "start",
      "--",
      "--inspector-port",
      String(inspector),
      "--log-level",
      options.wranglerLogLevel ?? "warn",
      ...vars,
      ...(options.args ?? []),
    ];
  } else {
    Object.assign(env, settings);
    args = ["run", `start:${runtime}`];
  }
  // A process group of its own, so stop() reaches npm's children too.
  const { child, output } = spawnGroup("npm", ["--silent", ...args], { env });
  const url = `http://${host}:${port}`;
  const server: RunningServer = {
    runtime,
    url,
    output,
    stop: () => stopGroup(child),
    signal: (signal) => {
      if (child.pid !== undefined) signalGroup(child.pid, signal);
    },
    exited: (timeoutMs) => groupExited(child, timeoutMs),
  };
  try {
    await waitUntilServing(`${url}/api/stats`, child, 60_000);
  } catch (error) {
    await server.stop();
    throw new Error(`${runtime} did not start: ${(error as Error).message}\n${output()}`);
  }
  return server;
}
