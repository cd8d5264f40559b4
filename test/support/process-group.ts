/**
 * What every test that starts a real process needs: a free loopback port, a wait until the
 * process answers over HTTP, and a stop that reaches its whole process group.
 */
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

/**
 * A free port: any, or `wanted` once it is free. A server just stopped may hold its port for a
 * moment (its children exit after it), so `wanted` is retried for a few seconds.
 */
export async function freePort(host: string, wanted = 0): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await probePort(host, wanted);
    } catch (error) {
      if (wanted === 0 || (error as NodeJS.ErrnoException).code !== "EADDRINUSE" || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

// What a server prints when the port it was given is taken.
const PORT_TAKEN = /EADDRINUSE|address already in use/i;

/**
 * Runs `start` (which listens on a port from `freePort`) again, up to 3 times in all, while it fails
 * because that port was taken: `freePort` finds one by listening on port 0 and closing again, so
 * another process (tests start servers in parallel) may take it before the server binds it.
 * `cleanUp` runs after each failed attempt.
 */
export async function onAnotherPortIfTaken<T>(start: () => Promise<T>, cleanUp?: () => Promise<void>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      await cleanUp?.();
      if (attempt >= 3 || !PORT_TAKEN.test((error as Error).message)) throw error;
    }
  }
}

/** Listens on the port and closes again; `once` rejects if listening fails. */
async function probePort(host: string, wanted: number): Promise<number> {
  const probe = createServer();
  probe.listen(wanted, host);
  await once(probe, "listening");
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * Starts a command in a process group of its own (so `stopGroup` reaches everything it spawns),
 * recording what it prints for failure messages.
 */
export function spawnGroup(
  command: string,
  args: string[],
  options: Pick<SpawnOptions, "env"> = {},
): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const record = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout?.on("data", record);
  child.stderr?.on("data", record);
  return { child, output: () => output };
}

/** Polls `url` until it answers 2xx; fails early if `child` exits. */
export async function waitUntilServing(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms`);
}

/**
 * Stops a child started with `detached: true` and everything it spawned: SIGTERM to the group,
 * SIGKILL after 5 s, and SIGKILL again once the leader is gone for children it left behind.
 */
export async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  signalGroup(child.pid, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child.pid as number, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
  signalGroup(child.pid, "SIGKILL");
}

/**
 * Resolves true once no process of the group started by `child` is left, false if one still is
 * after `timeoutMs`. Sends nothing: for a test that signals the group once and watches it go.
 */
export async function groupExited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (child.pid !== undefined && groupAlive(child.pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}
