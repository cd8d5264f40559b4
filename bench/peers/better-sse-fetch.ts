/**
 * better-sse peer, Fetch API flavour: `createResponse` turns a web Request into a session and
 * its Response; a Channel broadcasts. Runs on Node, Bun and Deno.
 */
import { createResponse } from "better-sse";
import { channel, join, publish, SESSION_OPTIONS } from "./better-sse-channel.ts";
import { serveFetch } from "./serve.ts";

// better-sse 0.16.1's Fetch adapter leaves its stream writes' promises unhandled: once a client
// has gone, they reject and Deno exits (MatthewWid/better-sse#120). Ignore them, as a user must.
if ("Deno" in globalThis) globalThis.addEventListener("unhandledrejection", (event) => event.preventDefault());
else process.on("unhandledRejection", () => {});

/**
 * better-sse learns of a disconnect from request.signal alone. Under --unstable-no-legacy-abort,
 * Deno does not abort it for a client that leaves while its stream is being written to (it
 * settles `info.completed` instead), so on Deno the session also listens to that promise.
 */
function withDisconnectSignal(request: Request, info: unknown): Request {
  const completed = (info as { completed?: Promise<void> } | undefined)?.completed;
  if (!completed) return request;
  const left = new AbortController();
  completed.then(
    () => left.abort(),
    () => left.abort(),
  );
  return new Request(request, { signal: AbortSignal.any([request.signal, left.signal]) });
}

await serveFetch(async (request, info) => {
  const { pathname } = new URL(request.url);
  if (request.method === "GET" && pathname === "/stream") {
    return createResponse(withDisconnectSignal(request, info), SESSION_OPTIONS, join);
  }
  if (request.method === "POST" && pathname === "/publish") {
    publish(await request.text());
    return new Response(null, { status: 204 });
  }
  if (request.method === "GET" && pathname === "/stats") return Response.json({ activeStreams: channel.sessionCount });
  return new Response("not found", { status: 404 });
});
