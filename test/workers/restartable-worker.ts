/**
 * The Worker with two more routes, for the restart tests under `wrangler dev`
 * (test/runtimes/object-restart.test.ts, stream-object-restart.test.ts): `POST /test/restart/:channel`
 * resets that channel's object, `POST /test/restart-stream/:name` that durable stream's object
 * (`ctx.abort()`, as a crash or a deploy would), dropping every socket to it; `GET
 * /test/stream-instance/:name` names the stream object's current instance; `POST
 * /test/fail-next-append/:name` makes that stream's object reset right after it stores its next append,
 * before it answers.
 */
import worker, { ChannelObject as Channel, ChannelShard, StreamObject as Stream } from "../../src/runtime/worker.ts";

export class ChannelObject extends Channel {
  restart(): void {
    this.ctx.abort("restarted by a test");
  }
}

export class StreamObject extends Stream {
  /** Differs for each instance of the object: a test sees that a restart happened. */
  private readonly instance = crypto.randomUUID();
  /** The next append is stored, then the object resets before it answers. */
  private failAfterNextAppend = false;

  restart(): void {
    this.ctx.abort("restarted by a test");
  }

  failNextAppend(): void {
    this.failAfterNextAppend = true;
  }

  override async append(request: Parameters<Stream["append"]>[0]): ReturnType<Stream["append"]> {
    const result = await super.append(request);
    if (this.failAfterNextAppend) {
      // Written to disk first: aborting would drop a write not yet flushed.
      await this.ctx.storage.sync();
      this.ctx.abort("reset by a test after storing an append");
    }
    return result;
  }

  whoAmI(): string {
    return this.instance;
  }
}

export { AnswersObject } from "../../src/runtime/worker.ts";
export { ChannelShard };

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    const restart = /^\/test\/restart\/([\w-]+)$/.exec(path);
    const restartStream = /^\/test\/restart-stream\/(.+)$/.exec(path);
    const instance = /^\/test\/stream-instance\/(.+)$/.exec(path);
    const failAppend = /^\/test\/fail-next-append\/(.+)$/.exec(path);
    if (failAppend !== null && request.method === "POST") {
      const streams = env.STREAMS as unknown as DurableObjectNamespace<StreamObject>;
      await streams.get(streams.idFromName(decodeURIComponent(failAppend[1] as string))).failNextAppend();
      return new Response(null, { status: 204 });
    }
    if (instance !== null) {
      const streams = env.STREAMS as unknown as DurableObjectNamespace<StreamObject>;
      return new Response(await streams.get(streams.idFromName(instance[1] as string)).whoAmI());
    }
    if (request.method !== "POST" || (restart === null && restartStream === null)) {
      return worker.fetch(request, env, ctx);
    }
    // This entry exports the subclasses under the classes' names, so that is what the bindings hold.
    // The calls fail by design: the object is gone before it can answer.
    if (restart !== null) {
      const channels = env.CHANNELS as unknown as DurableObjectNamespace<ChannelObject>;
      await channels
        .get(channels.idFromName(restart[1] as string))
        .restart()
        .catch(() => {});
    } else {
      const streams = env.STREAMS as unknown as DurableObjectNamespace<StreamObject>;
      await streams
        .get(streams.idFromName(decodeURIComponent(restartStream?.[1] as string)))
        .restart()
        .catch(() => {});
    }
    return new Response(null, { status: 204 });
  },
} satisfies ExportedHandler<Parameters<typeof worker.fetch>[1]>;
