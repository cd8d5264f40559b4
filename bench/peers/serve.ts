/**
 * The part of the peer contract every peer shares (see README.md): listen on PORT/HOST, print
 * `listening <url>` once ready, and exit promptly on SIGINT/SIGTERM.
 */
import type { Server } from "node:http";

/** `info` is the runtime's second argument (Deno's ServeHandlerInfo, Bun's Server, Node's bindings). */
type FetchHandler = (request: Request, info?: unknown) => Response | Promise<Response>;

/** Only what the peers use of Deno's namespace; the Node typings of this folder do not know it. */
interface DenoNamespace {
  env: { get(name: string): string | undefined; toObject(): Record<string, string> };
  serve(
    options: { port: number; hostname: string; onListen(address: { port: number }): void },
    handler: FetchHandler,
  ): unknown;
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
}

const deno = (globalThis as { Deno?: DenoNamespace }).Deno;
const runtime = deno ? "deno" : "Bun" in globalThis ? "bun" : "node";

export function readEnv(name: string): string | undefined {
  return deno ? deno.env.get(name) : process.env[name];
}

/** The whole environment, on whichever runtime runs this file. */
export function environment(): Record<string, string | undefined> {
  return deno ? deno.env.toObject() : process.env;
}

function exit(code: number): never {
  return deno ? deno.exit(code) : process.exit(code);
}

/** PORT is required (0 picks a free one); HOST defaults to loopback. */
export function listenAddress(): { port: number; hostname: string } {
  const port = Number(readEnv("PORT"));
  if (!readEnv("PORT") || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("PORT must be set to a port number");
    exit(2);
  }
  return { port, hostname: readEnv("HOST") || "127.0.0.1" };
}

function ready(hostname: string, port: number): void {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  console.log(`listening http://${host}:${port}`);
}

function exitOnSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    // Exit at once: a graceful close would wait for the open streams, which never end by themselves.
    if (deno) deno.addSignalListener(signal, () => exit(0));
    else process.on(signal, () => exit(0));
  }
}

/**
 * Serves a fetch handler on whichever of Node, Bun or Deno runs this file. `onNode`: what Node serves
 * instead (edge-sse's servers: `directEventStreams`, as its Node entry and README's Node set-up do).
 */
export async function serveFetch(fetch: FetchHandler, onNode?: (fetch: FetchHandler) => FetchHandler): Promise<void> {
  const { port, hostname } = listenAddress();
  exitOnSignals();
  if (runtime === "deno") {
    deno?.serve({ port, hostname, onListen: (address) => ready(hostname, address.port) }, fetch);
  } else if (runtime === "bun") {
    // Bun closes a connection after 10 s without traffic by default; 0 keeps idle streams open.
    const server = Bun.serve({ port, hostname, idleTimeout: 0, fetch });
    ready(hostname, server.port ?? port);
  } else {
    // Loaded only on Node, the one runtime that needs an adapter for fetch handlers.
    const { serve } = await import("@hono/node-server");
    serve({ fetch: onNode?.(fetch) ?? fetch, port, hostname }, (info) => ready(hostname, info.port));
  }
}

/** Listens with a plain node:http server (the Node-only peers). */
export function listenNode(server: Server): void {
  const { port, hostname } = listenAddress();
  exitOnSignals();
  server.listen(port, hostname, () => {
    const address = server.address();
    ready(hostname, typeof address === "object" && address ? address.port : port);
  });
}

/**
 * A full garbage collection, for a benchmark that reads the server's idle memory: Node with
 * `--expose-gc`, Bun always, Deno with `--v8-flags=--expose-gc`. False where the runtime cannot.
 */
export function collectGarbage(): boolean {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  if (bun) bun.gc(true);
  else if (typeof globalThis.gc === "function") globalThis.gc();
  else return false;
  return true;
}
