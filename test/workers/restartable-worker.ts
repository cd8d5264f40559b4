/**
 * The Worker with one more route, for test/runtimes/object-restart.test.ts under `wrangler dev`:
 * `POST /test/restart/:channel` resets that channel's object (`ctx.abort()`, as a crash or a
 * deploy would), dropping every subscriber's socket to it.
 */
import worker, { ChannelObject as Channel, ChannelShard } from "../../src/runtime/worker.ts";

export class ChannelObject extends Channel {
  restart(): void {
    this.ctx.abort("restarted by a test");
  }
}

export { ChannelShard };

export default {
  async fetch(request, env, ctx) {
    const restart = /^\/test\/restart\/([\w-]+)$/.exec(new URL(request.url).pathname);
    if (restart === null || request.method !== "POST") return worker.fetch(request, env, ctx);
    // This entry exports the subclass as ChannelObject, so that is what the binding holds.
    const channels = env.CHANNELS as unknown as DurableObjectNamespace<ChannelObject>;
    const channel = channels.get(channels.idFromName(restart[1] as string));
    // The call fails by design: the object is gone before it can answer.
    await channel.restart().catch(() => {});
    return new Response(null, { status: 204 });
  },
} satisfies ExportedHandler<Parameters<typeof worker.fetch>[1]>;
