// A user's own Worker: edge-sse/workers' channel objects behind the same app.
import { DurableObjectHub } from "edge-sse/workers";
import { createApp } from "./app.mjs";

export { ChannelObject, ChannelShard } from "edge-sse/workers";

let app;
export default {
  fetch(request, env, ctx) {
    app ??= createApp(new DurableObjectHub(env));
    return app.fetch(request, env, ctx);
  },
};
