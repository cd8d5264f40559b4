/**
 * node:http floor for appends: the least a Node server can do to take a stream's appends. Each POST's
 * body is kept in an array per path and answered 204 with its `Stream-Next-Offset`; a PUT answers 201,
 * a GET 200 (the benchmark's readiness check). No protocol, no checks, no reads: calibration, not a
 * product. A peer of `npm run bench:streams`' appends only (bench/streams.ts), Node only.
 */
import { createServer } from "node:http";
import { listenNode } from "./serve.ts";

const streams = new Map<string, Buffer[]>();
const offset = (n: number) => `0000000000000000_${String(n).padStart(16, "0")}`;

const server = createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0] as string;
  if (req.method === "PUT") {
    if (!streams.has(path)) streams.set(path, []);
    res.writeHead(201, { "stream-next-offset": offset(0) }).end();
  } else if (req.method === "POST") {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const entries = streams.get(path);
      if (entries === undefined) {
        res.writeHead(404).end();
        return;
      }
      entries.push(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
      res.writeHead(204, { "stream-next-offset": offset(entries.length) }).end();
    });
  } else if (req.method === "GET") {
    res.writeHead(200, { "content-type": "application/json" }).end("[]");
  } else {
    res.writeHead(405).end();
  }
});

listenNode(server);
