// Plain Node, no TypeScript loader: @hono/node-server with edge-sse/node's fast path.
import { serve } from "@hono/node-server";
import { OpenStreams } from "edge-sse";
import { MemoryHub } from "edge-sse/hub";
import { directEventStreams } from "edge-sse/node";
import { createApp } from "./app.mjs";

const settings = { retry: 3000, keepAliveMs: 5000, maxBufferedBytes: 1 << 20, maxBufferedEvents: 1000 };
const app = createApp(new MemoryHub(100, settings, new OpenStreams()));
serve({ fetch: directEventStreams(app.fetch), port: Number(process.env.PORT), hostname: "127.0.0.1" });
