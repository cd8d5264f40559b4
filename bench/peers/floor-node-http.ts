/**
 * node:http floor: the least a Node SSE server can do. A Set of ServerResponses, each message
 * turned into one Buffer once and written to every response. Node only.
 */
import { createServer, type ServerResponse } from "node:http";
import { listenNode } from "./serve.ts";

const subscribers = new Set<ServerResponse>();
const HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };
const PREFIX = Buffer.from("data: ");
const SUFFIX = Buffer.from("\n\n");

const server = createServer((req, res) => {
  const pathname = new URL(req.url ?? "/", "http://peer").pathname;
  if (req.method === "GET" && pathname === "/stream") {
    res.writeHead(200, HEADERS);
    res.write(":\n\n");
    subscribers.add(res);
    res.on("close", () => subscribers.delete(res));
  } else if (req.method === "POST" && pathname === "/publish") {
    const chunks: Buffer[] = [PREFIX];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      chunks.push(SUFFIX);
      const frame = Buffer.concat(chunks);
      for (const subscriber of subscribers) subscriber.write(frame);
      res.writeHead(204).end();
    });
  } else if (req.method === "GET" && pathname === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ activeStreams: subscribers.size }));
  } else {
    res.writeHead(404).end();
  }
});

listenNode(server);
