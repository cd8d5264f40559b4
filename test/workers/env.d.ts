// What the Worker under test exports and binds, for `cloudflare:workers` in tests.
declare namespace Cloudflare {
  interface Exports {
    default: Fetcher;
  }
  interface Env {
    CHANNELS: DurableObjectNamespace<import("../../src/hub/durable-object/index.ts").ChannelObject>;
    CHANNEL_SHARDS: DurableObjectNamespace<import("../../src/hub/durable-object/index.ts").ChannelShard>;
    STREAMS: DurableObjectNamespace<import("../../src/hub/durable-object/index.ts").StreamObject>;
  }
}
