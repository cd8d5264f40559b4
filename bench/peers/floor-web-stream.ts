/**
 * Web-stream floor: the least a fetch-handler SSE server can do. One ReadableStream per client,
 * each message encoded once and enqueued into every stream. Runs on Node, Bun and Deno.
 */
import { serveFetch } from "./serve.ts";

type Subscriber = ReadableStreamDefaultController<Uint8Array>;

const encoder = new TextEncoder();
const subscribers = new Set<Subscriber>();
const OPENING = encoder.encode(":\n\n");
const HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

function openStream(): Response {
  let self: Subscriber;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      self = controller;
      subscribers.add(controller);
      // The first write releases the headers (Bun holds them until then).
      controller.enqueue(OPENING);
    },
    // Every runtime cancels the body when the client disconnects.
    cancel() {
      subscribers.delete(self);
    },
  });
  return new Response(body, { headers: HEADERS });
}

function publish(payload: string): void {
  const frame = encoder.encode(`data: ${payload}\n\n`);
  for (const subscriber of subscribers) {
    try {
      subscriber.enqueue(frame);
    } catch {
      // Closed between the disconnect and its cancel(): it is going away anyway.
      subscribers.delete(subscriber);
    }
  }
}

await serveFetch(async (request) => {
  const { pathname } = new URL(request.url);
  if (request.method === "GET" && pathname === "/stream") return openStream();
  if (request.method === "POST" && pathname === "/publish") {
    publish(await request.text());
    return new Response(null, { status: 204 });
  }
  if (request.method === "GET" && pathname === "/stats") return Response.json({ activeStreams: subscribers.size });
  return new Response("not found", { status: 404 });
});
