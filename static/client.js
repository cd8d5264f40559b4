// edge-sse/client for the demo page: made from src/client by `npm run build:client` (scripts/page-client.ts).
// Do not edit: test/client/page-client.test.ts fails when it differs from what the script makes.

// src/client/backoff.ts
var BACKOFF_DEFAULTS = { initialMs: 1e3, maxMs: 3e4 };
function backoffDelay(attempt, baseMs, maxMs = BACKOFF_DEFAULTS.maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

// node_modules/eventsource-parser/dist/index.js
var ParseError = class extends Error {
  constructor(message, options) {
    super(message), this.name = "ParseError", this.type = options.type, this.field = options.field, this.value = options.value, this.line = options.line;
  }
};
var LF = 10;
var CR = 13;
var SPACE = 32;
function noop(_arg) {
}
function createParser(config) {
  if (typeof config == "function")
    throw new TypeError(
      "`config` must be an object, got a function instead. Did you mean `createParser({onEvent: fn})`?"
    );
  const { onEvent = noop, onError = noop, onRetry = noop, onComment, maxBufferSize } = config, pendingFragments = [];
  let pendingFragmentsLength = 0, isFirstChunk = true, id, data = "", dataLines = 0, eventType, terminated = false;
  function feed(chunk) {
    if (terminated)
      throw new Error(
        "Cannot feed parser: it was terminated after exceeding the configured max buffer size. Call `reset()` to resume parsing."
      );
    if (isFirstChunk && (isFirstChunk = false, chunk.charCodeAt(0) === 239 && chunk.charCodeAt(1) === 187 && chunk.charCodeAt(2) === 191 && (chunk = chunk.slice(3))), pendingFragments.length === 0) {
      const trailing2 = processLines(chunk);
      trailing2 !== "" && (pendingFragments.push(trailing2), pendingFragmentsLength = trailing2.length), checkBufferSize();
      return;
    }
    if (chunk.indexOf(`
`) === -1 && chunk.indexOf("\r") === -1) {
      pendingFragments.push(chunk), pendingFragmentsLength += chunk.length, checkBufferSize();
      return;
    }
    pendingFragments.push(chunk);
    const input = pendingFragments.join("");
    pendingFragments.length = 0, pendingFragmentsLength = 0;
    const trailing = processLines(input);
    trailing !== "" && (pendingFragments.push(trailing), pendingFragmentsLength = trailing.length), checkBufferSize();
  }
  function checkBufferSize() {
    maxBufferSize !== void 0 && (pendingFragmentsLength + data.length <= maxBufferSize || (terminated = true, pendingFragments.length = 0, pendingFragmentsLength = 0, id = void 0, data = "", dataLines = 0, eventType = void 0, onError(
      new ParseError(`Buffered data exceeded max buffer size of ${maxBufferSize} characters`, {
        type: "max-buffer-size-exceeded"
      })
    )));
  }
  function processLines(chunk) {
    let searchIndex = 0;
    if (chunk.indexOf("\r") === -1) {
      let lfIndex = chunk.indexOf(`
`, searchIndex);
      for (; lfIndex !== -1; ) {
        if (searchIndex === lfIndex) {
          dataLines > 0 && onEvent({ id, event: eventType, data }), id = void 0, data = "", dataLines = 0, eventType = void 0, searchIndex = lfIndex + 1, lfIndex = chunk.indexOf(`
`, searchIndex);
          continue;
        }
        const firstCharCode = chunk.charCodeAt(searchIndex);
        if (isDataPrefix(chunk, searchIndex, firstCharCode)) {
          const valueStart = chunk.charCodeAt(searchIndex + 5) === SPACE ? searchIndex + 6 : searchIndex + 5, value = chunk.slice(valueStart, lfIndex);
          if (dataLines === 0 && chunk.charCodeAt(lfIndex + 1) === LF) {
            onEvent({ id, event: eventType, data: value }), id = void 0, data = "", eventType = void 0, searchIndex = lfIndex + 2, lfIndex = chunk.indexOf(`
`, searchIndex);
            continue;
          }
          data = dataLines === 0 ? value : `${data}
${value}`, dataLines++;
        } else isEventPrefix(chunk, searchIndex, firstCharCode) ? eventType = chunk.slice(
          chunk.charCodeAt(searchIndex + 6) === SPACE ? searchIndex + 7 : searchIndex + 6,
          lfIndex
        ) || void 0 : parseLine(chunk, searchIndex, lfIndex);
        searchIndex = lfIndex + 1, lfIndex = chunk.indexOf(`
`, searchIndex);
      }
      return chunk.slice(searchIndex);
    }
    for (; searchIndex < chunk.length; ) {
      const crIndex = chunk.indexOf("\r", searchIndex), lfIndex = chunk.indexOf(`
`, searchIndex);
      let lineEnd = -1;
      if (crIndex !== -1 && lfIndex !== -1 ? lineEnd = crIndex < lfIndex ? crIndex : lfIndex : crIndex !== -1 ? crIndex === chunk.length - 1 ? lineEnd = -1 : lineEnd = crIndex : lfIndex !== -1 && (lineEnd = lfIndex), lineEnd === -1)
        break;
      parseLine(chunk, searchIndex, lineEnd), searchIndex = lineEnd + 1, chunk.charCodeAt(searchIndex - 1) === CR && chunk.charCodeAt(searchIndex) === LF && searchIndex++;
    }
    return chunk.slice(searchIndex);
  }
  function parseLine(chunk, start, end) {
    if (start === end) {
      dispatchEvent();
      return;
    }
    const firstCharCode = chunk.charCodeAt(start);
    if (isDataPrefix(chunk, start, firstCharCode)) {
      const valueStart = chunk.charCodeAt(start + 5) === SPACE ? start + 6 : start + 5, value2 = chunk.slice(valueStart, end);
      data = dataLines === 0 ? value2 : `${data}
${value2}`, dataLines++;
      return;
    }
    if (isEventPrefix(chunk, start, firstCharCode)) {
      eventType = chunk.slice(chunk.charCodeAt(start + 6) === SPACE ? start + 7 : start + 6, end) || void 0;
      return;
    }
    if (firstCharCode === 105 && chunk.charCodeAt(start + 1) === 100 && chunk.charCodeAt(start + 2) === 58) {
      const value2 = chunk.slice(chunk.charCodeAt(start + 3) === SPACE ? start + 4 : start + 3, end);
      value2.includes("\0") || (id = value2);
      return;
    }
    if (firstCharCode === 58) {
      if (onComment) {
        const line2 = chunk.slice(start, end);
        onComment(line2.slice(chunk.charCodeAt(start + 1) === SPACE ? 2 : 1));
      }
      return;
    }
    const line = chunk.slice(start, end), fieldSeparatorIndex = line.indexOf(":");
    if (fieldSeparatorIndex === -1) {
      processField(line, "", line);
      return;
    }
    const field = line.slice(0, fieldSeparatorIndex), offset = line.charCodeAt(fieldSeparatorIndex + 1) === SPACE ? 2 : 1, value = line.slice(fieldSeparatorIndex + offset);
    processField(field, value, line);
  }
  function processField(field, value, line) {
    switch (field) {
      case "event":
        eventType = value || void 0;
        break;
      case "data":
        data = dataLines === 0 ? value : `${data}
${value}`, dataLines++;
        break;
      case "id":
        value.includes("\0") || (id = value);
        break;
      case "retry":
        /^\d+$/.test(value) ? onRetry(parseInt(value, 10)) : onError(
          new ParseError(`Invalid \`retry\` value: "${value}"`, {
            type: "invalid-retry",
            value,
            line
          })
        );
        break;
      default:
        onError(
          new ParseError(
            `Unknown field "${field.length > 20 ? `${field.slice(0, 20)}\u2026` : field}"`,
            { type: "unknown-field", field, value, line }
          )
        );
        break;
    }
  }
  function dispatchEvent() {
    dataLines > 0 && onEvent({
      id,
      event: eventType,
      data
    }), id = void 0, data = "", dataLines = 0, eventType = void 0;
  }
  function reset(options = {}) {
    if (options.consume && pendingFragments.length > 0) {
      const incompleteLine = pendingFragments.join("");
      parseLine(incompleteLine, 0, incompleteLine.length);
    }
    isFirstChunk = true, id = void 0, data = "", dataLines = 0, eventType = void 0, pendingFragments.length = 0, pendingFragmentsLength = 0, terminated = false;
  }
  return { feed, reset };
}
function isDataPrefix(chunk, i, firstCharCode) {
  return firstCharCode === 100 && chunk.charCodeAt(i + 1) === 97 && chunk.charCodeAt(i + 2) === 116 && chunk.charCodeAt(i + 3) === 97 && chunk.charCodeAt(i + 4) === 58;
}
function isEventPrefix(chunk, i, firstCharCode) {
  return firstCharCode === 101 && chunk.charCodeAt(i + 1) === 118 && chunk.charCodeAt(i + 2) === 101 && chunk.charCodeAt(i + 3) === 110 && chunk.charCodeAt(i + 4) === 116 && chunk.charCodeAt(i + 5) === 58;
}

// src/client/shared-stream.ts
function locks() {
  return globalThis.navigator?.locks;
}
function canShare() {
  return typeof BroadcastChannel === "function" && typeof locks()?.request === "function";
}
function runShared(client, name, options) {
  const channel = new BroadcastChannel(`edge-sse:${name}`);
  const released = new Promise((resolve) => {
    client.onFinish = () => {
      channel.close();
      resolve();
    };
  });
  const post = (message) => channel.postMessage(message);
  const opened = () => options.onOpen?.(new Response(null, { status: 200 }));
  let open = false;
  channel.onmessage = ({ data }) => {
    if (client.closed) return;
    if (data.kind === "event") client.deliver(data.event, data.data, data.id);
    else if (data.kind === "open") opened();
    else if (data.kind === "lost") options.onError?.(new Error(data.message));
    else if (data.kind === "ask" && client.isLeader) post({ kind: "state", id: client.lastEventId, open });
    else if (data.kind === "state" && !client.isLeader) {
      client.lastEventId = data.id;
      if (data.open) opened();
    }
  };
  post({ kind: "ask" });
  locks().request(`edge-sse:${name}`, { signal: client.finished }, async () => {
    if (client.closed) return;
    client.isLeader = true;
    client.onDispatch = (event, data, id) => post({ kind: "event", event, data, id });
    client.onConnected = () => {
      open = true;
      post({ kind: "open" });
    };
    client.onLost = (error) => {
      open = false;
      post({ kind: "lost", message: error instanceof Error ? error.message : String(error) });
    };
    await Promise.race([client.run(), released]);
  }).catch(() => {
  });
}

// src/client/event-stream-client.ts
var EventStreamClient = class {
  constructor(options) {
    this.options = options;
    this.lastEventId = options.lastEventId;
    this.baseDelayMs = options.backoff?.initialMs ?? BACKOFF_DEFAULTS.initialMs;
    const signal = options.signal;
    if (signal?.aborted) queueMicrotask(() => this.close());
    else signal?.addEventListener("abort", () => this.close(), { once: true });
  }
  options;
  /** The last `id:` received: sent as `Last-Event-ID` when the client reconnects. */
  lastEventId;
  /** @internal Shared streams (shared-stream.ts): whether this tab holds the connection. */
  isLeader = false;
  /** @internal Told of every event this client received from its own connection, as it came. */
  onDispatch;
  /** @internal Told of every successful connection. */
  onConnected;
  /** @internal Told of every failed attempt or dropped connection. */
  onLost;
  /** @internal Told once, when the stream stops for good. */
  onFinish;
  handlers = /* @__PURE__ */ new Map();
  aborter = new AbortController();
  isClosed = false;
  baseDelayMs;
  get closed() {
    return this.isClosed;
  }
  /** Aborted when the stream stops for good. */
  get finished() {
    return this.aborter.signal;
  }
  /** Calls `handler` for every event named `event` (`message`: events the server named none). */
  on(event, handler) {
    let handlers = this.handlers.get(event);
    if (handlers === void 0) {
      handlers = /* @__PURE__ */ new Set();
      this.handlers.set(event, handlers);
    }
    handlers.add(handler);
    return () => handlers.delete(handler);
  }
  /** Stops for good: the connection is aborted, `onClose` is told `{ kind: "closed" }`. */
  close() {
    this.finish({ kind: "closed" });
  }
  /** Connects, and reconnects until closed. Started by `connectEventStream`. */
  async run() {
    const maxMs = this.options.backoff?.maxMs ?? BACKOFF_DEFAULTS.maxMs;
    let attempt = 0;
    while (!this.isClosed) {
      let waitMs;
      try {
        const response = await this.connect();
        if (response === void 0) return;
        attempt = 0;
        this.options.onOpen?.(response);
        this.onConnected?.();
        await this.read(response.body);
        if (this.isClosed) return;
        this.lost(new Error("the stream ended"));
      } catch (error) {
        if (this.isClosed) return;
        waitMs = error instanceof RetryAfterError ? error.waitMs : void 0;
        this.lost(error);
      }
      await this.sleep(waitMs ?? backoffDelay(attempt++, this.baseDelayMs, maxMs));
    }
  }
  /** One attempt: the response to read, or undefined when the stream stopped for good. */
  async connect() {
    const { options } = this;
    const url = typeof options.url === "function" ? await options.url() : options.url;
    const headers = new Headers(typeof options.headers === "function" ? await options.headers() : options.headers);
    headers.set("accept", "text/event-stream");
    if (this.lastEventId !== void 0) headers.set("last-event-id", this.lastEventId);
    const body = typeof options.body === "function" ? await options.body() : options.body;
    const response = await (options.fetch ?? fetch)(url, {
      method: options.method ?? "GET",
      headers,
      body,
      signal: this.aborter.signal,
      cache: "no-store"
    });
    if (response.status === 204) {
      this.finish({ kind: "no-content" });
      return void 0;
    }
    if (!response.ok) {
      await response.body?.cancel();
      if (isFinal(response.status)) {
        this.finish({ kind: "refused", status: response.status, response });
        return void 0;
      }
      const retryAfter = Number(response.headers.get("retry-after"));
      throw retryAfter > 0 ? new RetryAfterError(response.status, retryAfter * 1e3) : new Error(`the server answered ${response.status}`);
    }
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream") || response.body === null) {
      await response.body?.cancel();
      throw new Error(`expected text/event-stream, got ${type || "no content type"}`);
    }
    return response;
  }
  async read(body) {
    const parser = createParser({
      onEvent: (message) => this.dispatch(message),
      onRetry: (retry) => {
        this.baseDelayMs = retry;
      }
    });
    const decoder = new TextDecoder();
    const reader = body.getReader();
    try {
      for (; ; ) {
        const { value, done } = await reader.read();
        if (done || this.isClosed) return;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
  }
  dispatch(message) {
    const event = message.event ?? "message";
    this.deliver(event, message.data, message.id);
    this.onDispatch?.(event, message.data, message.id);
  }
  /** Hands an event to its handlers, as received from this client's connection or its leader's. */
  deliver(event, data, id) {
    if (id !== void 0) this.lastEventId = id;
    const handlers = this.handlers.get(event);
    if (handlers === void 0 || handlers.size === 0) return;
    const received = { event, data: parsed(data), id };
    for (const handler of handlers) handler(received);
  }
  lost(error) {
    this.options.onError?.(error);
    this.onLost?.(error);
  }
  sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.aborter.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done);
    });
  }
  finish(reason) {
    if (this.isClosed) return;
    this.isClosed = true;
    this.aborter.abort();
    this.onFinish?.();
    this.options.onClose?.(reason);
  }
};
function connectEventStream(options) {
  const client = new EventStreamClient(options);
  if (options.share !== void 0 && canShare()) runShared(client, options.share, options);
  else client.run().catch((error) => options.onError?.(error));
  return client;
}
function isFinal(status) {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}
var RetryAfterError = class extends Error {
  constructor(status, waitMs) {
    super(`the server answered ${status}: retry after ${waitMs} ms`);
    this.status = status;
    this.waitMs = waitMs;
  }
  status;
  waitMs;
};
function parsed(data) {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

// src/client/channel-set.ts
var ChannelSetClient = class extends EventStreamClient {
  /** One channel's events, typed by its own map: `channel("news").on("message", …)`. */
  channel(name) {
    return {
      on: (type, handler) => (
        // The names are the server's own: `${name}/${type}` is a key of ChannelSetEvents.
        this.on(`${name}/${type}`, handler)
      )
    };
  }
  /** Where each channel is: the last id received from it (the cursor the client resumes with). */
  positions() {
    const positions = {};
    for (const entry of this.lastEventId?.split(",") ?? []) {
      const at = entry.lastIndexOf(":");
      if (at > 0) positions[entry.slice(0, at)] = Number(entry.slice(at + 1));
    }
    return positions;
  }
};
function connectChannels(options) {
  const { url, channels, presence } = options;
  const withChannels = async () => {
    const page = globalThis.location?.href;
    const base = new URL(String(typeof url === "function" ? await url() : url), page);
    for (const channel of channels) base.searchParams.append("channel", channel);
    if (presence) base.searchParams.set("presence", "1");
    return base;
  };
  const streamOptions = { ...options, url: withChannels };
  const client = new ChannelSetClient(streamOptions);
  if (options.share !== void 0 && canShare())
    runShared(client, options.share, streamOptions);
  else client.run().catch((error) => options.onError?.(error));
  return client;
}
export {
  ChannelSetClient,
  EventStreamClient,
  backoffDelay,
  connectChannels,
  connectEventStream
};
