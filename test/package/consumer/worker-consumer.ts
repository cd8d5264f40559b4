// A TypeScript Worker on edge-sse/workers, checked against @cloudflare/workers-types (tsconfig.workers.json).
import { eventStream } from "edge-sse";
import { type ChannelObject, DurableObjectHub } from "edge-sse/workers";

export { ChannelObject } from "edge-sse/workers";

interface Env {
  CHANNELS: DurableObjectNamespace<ChannelObject>;
}

export default {
  async fetch(request, env) {
    const hub = new DurableObjectHub(env.CHANNELS);
    if (request.method === "POST") return Response.json(await hub.publish("news", { text: await request.text() }));
    return eventStream(async function* () {
      yield* (await hub.list("news", 0, 10)).map((message) => ({ event: "message", id: message.id, data: message }));
    });
  },
} satisfies ExportedHandler<Env>;
