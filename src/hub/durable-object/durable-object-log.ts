/**
 * The Durable Streams log seen from a Worker: each stream is its own `StreamObject` (named by the
 * stream's name), called by RPC, except a channel's stream (`channels/<name>`), which is the
 * history of the channel's own `ChannelObject` (named by the channel) and is read there with the
 * same calls; `watch` is a WebSocket to it from the Worker request that holds
 * the reader's response (stream-watch.ts). Reads are retried through a fresh stub when the call
 * fails (the object restarting): they change nothing but a sliding TTL, so an SSE reader goes on
 * across a restart instead of ending. Writes are not: one that failed may have been applied, and
 * only the client knows whether it may send it again (idempotent producers may). Either way a call
 * that failed is the backend's failure, a `503 backend_unavailable`, never the app's 500.
 */
import { BackendUnavailableError } from "../backend-unavailable.ts";
import { channelOfStream } from "../channel-stream-name.ts";
import type {
  AppendRequest,
  AppendResult,
  CreateRequest,
  CreateResult,
  DeleteResult,
  LogChange,
  ReadResult,
  StreamLog,
  StreamLookup,
} from "../log.ts";
import type { ReadPosition } from "../stream-rules.ts";
import type { ChannelObject } from "./channel-object.ts";
import type { StreamObject } from "./stream-object.ts";
import { StreamWatch } from "./stream-watch.ts";

export interface StreamNamespaces {
  STREAMS: DurableObjectNamespace<StreamObject>;
  CHANNELS: DurableObjectNamespace<ChannelObject>;
}

/** The object a stream is read from: its `StreamObject`, or for a channel's stream the `ChannelObject`. */
type ReadObject = DurableObjectStub<StreamObject> | DurableObjectStub<ChannelObject>;

const CHANNEL_STREAM_READ_ONLY = "a channel's stream is written by publishing to the channel only";

// Waits before each attempt of a read whose call to the object failed.
const READ_RETRY_DELAYS_MS = [0, 100, 500, 1_000, 2_000];

export class DurableObjectLog implements StreamLog {
  /**
   * @param namespaces the `STREAMS` and `CHANNELS` bindings (see wrangler.toml); the objects read their
   * limits from env
   */
  constructor(private readonly namespaces: StreamNamespaces) {}

  /*
   * A channel's stream is written by its channel's publish only; the /v1/stream routes refuse its
   * writes before they get here. Should one come, it is answered as by a stream that takes none,
   * changing nothing: a create conflicts, an append finds it closed, a delete is a bug (no answer
   * of a delete says "nothing deleted").
   */

  async create(name: string, request: CreateRequest): Promise<CreateResult> {
    if (channelOfStream(name) !== undefined) return { kind: "conflict", message: CHANNEL_STREAM_READ_ONLY };
    return (await this.written(() => this.streamObject(name).create(request))) as CreateResult;
  }

  async append(name: string, request: AppendRequest): Promise<AppendResult> {
    if (channelOfStream(name) !== undefined) {
      const lookup = await this.head(name);
      return lookup.kind === "found" ? { kind: "closed", record: lookup.record } : lookup;
    }
    return (await this.written(() => this.streamObject(name).append(request))) as AppendResult;
  }

  read(name: string, position: ReadPosition, maxBytes: number): Promise<ReadResult> {
    return this.retried(() => this.object(name).read(position, maxBytes) as Promise<ReadResult>);
  }

  head(name: string): Promise<StreamLookup> {
    return this.retried(() => this.object(name).head() as Promise<StreamLookup>);
  }

  async delete(name: string): Promise<DeleteResult> {
    if (channelOfStream(name) !== undefined) throw new TypeError(CHANNEL_STREAM_READ_ONLY);
    return this.written(() => this.streamObject(name).delete()) as Promise<DeleteResult>;
  }

  watch(name: string, listener: (change: LogChange) => void): () => void {
    const watch = new StreamWatch(() => this.object(name), listener);
    return () => watch.stop();
  }

  /** A fresh stub each time: one that saw its object reset stays broken. */
  private object(name: string): ReadObject {
    const channel = channelOfStream(name);
    if (channel === undefined) return this.streamObject(name);
    const { CHANNELS } = this.namespaces;
    return CHANNELS.get(CHANNELS.idFromName(channel));
  }

  private streamObject(name: string): DurableObjectStub<StreamObject> {
    const { STREAMS } = this.namespaces;
    return STREAMS.get(STREAMS.idFromName(name));
  }

  /** A write's call, once: it may have been applied if it failed (the object reset mid-call). */
  private async written(call: () => Promise<unknown>): Promise<unknown> {
    try {
      return await call();
    } catch (error) {
      throw new BackendUnavailableError("the stream's Durable Object", error);
    }
  }

  private async retried<T>(call: () => Promise<T>): Promise<T> {
    let failure: unknown;
    for (const delay of READ_RETRY_DELAYS_MS) {
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        return await call();
      } catch (error) {
        failure = error;
      }
    }
    throw new BackendUnavailableError("the stream's Durable Object", failure);
  }
}
