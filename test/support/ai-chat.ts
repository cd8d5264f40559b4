/**
 * The demo chat read with the AI SDK's own client (`ai` 6, pinned): `DefaultChatTransport`
 * (`sendMessages`, `reconnectToStream`) and `readUIMessageStream`, and the cases every runtime's
 * server must pass (`chatCases`): whoever reads, however they join or reconnect, rebuilds the message
 * the demo model says, once; `204` with nothing to resume; a stop ends the generation.
 */
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai";
import { expect, it } from "vitest";
import { demoReply } from "../../src/app/demo-model.ts";
import type { RunningServer } from "./server.ts";
import { eventually, PATIENCE_MS } from "./sse-reader.ts";

export const question = (text: string): UIMessage => ({
  id: `u-${text}`,
  role: "user",
  parts: [{ type: "text", text }],
});
export const expectedText = (text: string) => demoReply(text).join("");
export const textOf = (message: UIMessage) =>
  message.parts.map((part) => (part.type === "text" ? part.text : "")).join("");

export const transportOf = (server: RunningServer) => new DefaultChatTransport({ api: `${server.url}/api/chat` });

/** Asks `text` in chat `chatId`: the answer's UI message stream, as `useChat` gets it. */
export const send = (server: RunningServer, chatId: string, text: string, abortSignal?: AbortSignal) =>
  transportOf(server).sendMessages({
    chatId,
    messages: [question(text)],
    trigger: "submit-message",
    messageId: undefined,
    abortSignal,
  });

/** The message a chunk stream rebuilds, as `useChat` would show it at the end. */
export async function messageOf(stream: ReadableStream<UIMessageChunk>): Promise<UIMessage> {
  let last: UIMessage | undefined;
  for await (const message of readUIMessageStream({ stream })) last = message;
  if (last === undefined) throw new Error("the stream rebuilt no message");
  return last;
}

/** The message `chunks` rebuild, as `useChat` would show it once they all came. */
export function messageOfChunks(chunks: UIMessageChunk[]): Promise<UIMessage> {
  return messageOf(
    new ReadableStream({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    }),
  );
}

/** Every chunk, to the stream's end. */
export function chunksOf(stream: ReadableStream<UIMessageChunk>): Promise<UIMessageChunk[]> {
  return chunksLeft(stream.getReader());
}

/** What `reader` has still to read, to its end. */
export async function chunksLeft(reader: ReadableStreamDefaultReader<UIMessageChunk>): Promise<UIMessageChunk[]> {
  const chunks: UIMessageChunk[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

/** Reads chunks until `count` text deltas came, then stops reading (the request is left as it is). */
export async function readDeltas(stream: ReadableStream<UIMessageChunk>, count: number) {
  const reader = stream.getReader();
  const chunks: UIMessageChunk[] = [];
  let deltas = 0;
  while (deltas < count) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended after ${deltas} deltas`);
    chunks.push(value);
    if (value.type === "text-delta") deltas++;
  }
  return { chunks, reader };
}

/**
 * The cases for a server whose demo model waits `delayMs` between tokens: fast enough for a quick
 * test, slow enough that a reader is always mid-answer when it acts (it acts after a few tokens, and
 * an answer has dozens). `serverOf` is read when each case runs (the server starts in `beforeAll`).
 */
export function chatCases(serverOf: () => RunningServer, delayMs: number): void {
  const stats = async () =>
    (await (await fetch(`${serverOf().url}/api/chat/stats`)).json()) as {
      answersInFlight: number;
      modelTokens: number;
    };

  it("rebuilds the same message for a reader that aborts halfway and reconnects, one that reads it all, and one that joins late", async () => {
    const server = serverOf();
    const transport = transportOf(server);
    const chatId = `resume-${server.runtime}-${Date.now()}`;
    const text = "what survives a reload?";
    const first = new AbortController();
    const started = await send(server, chatId, text, first.signal);

    // From the start, uninterrupted.
    const whole = await transport.reconnectToStream({ chatId });
    expect(whole).not.toBeNull();
    const uninterrupted = messageOf(whole!);

    // The first reader leaves after a few tokens, as a reload does...
    const { reader } = await readDeltas(started, 5);
    first.abort();
    await reader.cancel().catch(() => {});
    // ... and one that joins now, mid-answer, starts from the first chunk anyway.
    const late = await transport.reconnectToStream({ chatId });
    expect(late).not.toBeNull();
    const lateMessage = messageOf(late!);
    // The first reader comes back.
    const again = await transport.reconnectToStream({ chatId });
    expect(again).not.toBeNull();
    const resumed = await messageOf(again!);

    const reference = await uninterrupted;
    expect(textOf(reference)).toBe(expectedText(text));
    expect(resumed).toEqual(reference);
    expect(await lateMessage).toEqual(reference);
    // One answer, one text part: a replay that doubled would show two, or longer text.
    expect(reference.parts.filter((part) => part.type === "text")).toHaveLength(1);
    expect(reference.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 204 to a resume when the chat has no answer", async () => {
    const server = serverOf();
    expect(await transportOf(server).reconnectToStream({ chatId: `never-${Date.now()}` })).toBeNull();
    const response = await fetch(`${server.url}/api/chat/never-${Date.now()}/stream`);
    expect(response.status).toBe(204);
  });

  it("stops the answer: every reader ends at once, and the model is asked for no more tokens", async () => {
    const server = serverOf();
    const transport = transportOf(server);
    const chatId = `stop-${server.runtime}-${Date.now()}`;
    const started = await send(server, chatId, "stop me");
    const follower = await transport.reconnectToStream({ chatId });
    const followed = messageOf(follower!);
    const { chunks, reader } = await readDeltas(started, 3);

    const stop = await fetch(`${server.url}/api/chat/${chatId}/stream`, { method: "DELETE" });
    expect(stop.status).toBe(204);
    // The rest of the first reader's stream: what was on its way, then the abort, then the end.
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    expect(chunks.at(-1)).toEqual({ type: "abort", reason: "stopped" });
    const stopped = await followed;
    expect(expectedText("stop me").startsWith(textOf(stopped))).toBe(true);
    expect(textOf(stopped).length).toBeLessThan(expectedText("stop me").length);

    // The generation ends with it: nothing in flight, and the token count stays where it is.
    expect(await eventually(async () => (await stats()).answersInFlight, 0)).toBe(0);
    const tokens = (await stats()).modelTokens;
    // Something that should not happen: ten tokens' time is enough to see a model that kept going.
    await new Promise((resolve) => setTimeout(resolve, 10 * delayMs));
    expect((await stats()).modelTokens).toBe(tokens);
    // A second stop finds nothing in flight; a resume replays the stopped answer to its abort.
    expect((await fetch(`${server.url}/api/chat/${chatId}/stream`, { method: "DELETE" })).status).toBe(404);
    expect(await messageOf((await transport.reconnectToStream({ chatId }))!)).toEqual(stopped);
  });

  it(
    "starts the next answer of a chat once the last one ended, and resumes that one",
    async () => {
      const server = serverOf();
      const chatId = `next-${server.runtime}-${Date.now()}`;
      await messageOf(await send(server, chatId, "first"));
      const second = await messageOf(await send(server, chatId, "second"));
      expect(textOf(second)).toBe(expectedText("second"));
      expect(await messageOf((await transportOf(server).reconnectToStream({ chatId }))!)).toEqual(second);
    },
    PATIENCE_MS,
  );
}
