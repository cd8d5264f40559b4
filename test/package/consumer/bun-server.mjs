import { OpenStreams } from "edge-sse";
import { MemoryHub } from "edge-sse/hub";
import { createApp } from "./app.mjs";

const settings = { retry: 3000, keepAliveMs: 5000, maxBufferedBytes: 1 << 20, maxBufferedEvents: 1000 };
const app = createApp(new MemoryHub(100, settings, new OpenStreams()));
Bun.serve({ port: Number(process.env.PORT), hostname: "127.0.0.1", fetch: app.fetch });
