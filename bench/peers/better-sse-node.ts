/**
 * better-sse peer, node:http flavour: `createSession(req, res)` on a plain node:http server, a
 * Channel broadcasts. Node only; the faster of the two better-sse peers on Node.
 */
import { createServer } from "node:http";
import { createSession } from "better-sse";
import { channel, join, publish, SESSION_OPTIONS } from "./better-sse-channel.ts";
import { listenNode } from "./serve.ts";

const server = createServer(async (req, res) => {
  const pathname = new URL(req.url ?? "/", "http://peer").pathname;
  if (req.method === "GET" && pathname === "/stream") {
    join(await createSession(req, res, SESSION_OPTIONS));
  } else if (req.method === "POST" && pathname === "/publish") {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      publish(body);
      res.writeHead(204).end();
    });
  } else if (req.method === "GET" && pathname === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ activeStreams: channel.sessionCount }));
  } else {
    res.writeHead(404).end();
  }
});

listenNode(server);
