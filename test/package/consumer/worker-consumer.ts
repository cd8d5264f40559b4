// A TypeScript Worker on edge-sse/workers, checked against @cloudflare/workers-types (tsconfig.workers.json).
import { eventStream } from "edge-sse";
import { type ChannelNamespaces, DurableObjectHub } from "edge-sse/workers";

export { ChannelObject, ChannelShard } from "edge-sse/workers";

type Env = ChannelNamespaces;

export default {
  async fetch(request, env) {
    const hub = new DurableObjectHub(env);
    if (request.method === "POST") {
      return Response.json((await hub.publish("news", { data: { text: await request.text() } })).event);
    }
    return eventStream(async function* () {
      yield* (await hub.list("news", 0, 10)).map((message) => ({ event: "message", id: message.id, data: message }));
    });
  },
} satisfies ExportedHandler<Env>;
