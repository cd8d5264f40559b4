/**
 * The demo chat's language model: no network, no key. It answers any question with a reply of a few
 * dozen words, one word (a "token") every `delayMs`, slow enough by default that a reload mid-answer
 * is plain to see. An AI SDK language model (specification v3), so `streamText` drives it as it drives
 * a real provider's: swap it for `openai("gpt-4o-mini")` or any other and nothing else changes.
 *
 * It stops as soon as its call's `abortSignal` aborts or its stream is cancelled, and counts the
 * tokens it produced (`onToken`), so a test can see that a stopped answer asks it for nothing more.
 */
import type { LanguageModelV3, LanguageModelV3Prompt, LanguageModelV3StreamPart } from "@ai-sdk/provider";

export interface DemoModelOptions {
  /** Time between two tokens, ms. */
  delayMs: number;
  /** Called once per token produced. */
  onToken?: () => void;
}

export function demoModel(options: DemoModelOptions): LanguageModelV3 {
  return {
    specificationVersion: "v3",
    provider: "edge-sse",
    modelId: "demo",
    supportedUrls: {},
    async doGenerate() {
      throw new Error("the demo model only streams: use streamText");
    },
    async doStream({ prompt, abortSignal }) {
      return { stream: replyStream(demoReply(lastUserText(prompt)), options, abortSignal) };
    },
  };
}

/** What the demo model says to `question`: a few dozen words. */
export function demoReply(question: string): string[] {
  const asked = question.trim().replace(/\s+/g, " ").slice(0, 80) || "nothing";
  const text =
    `You asked: "${asked}". I am edge-sse's demo model, and I know nothing, but I say it slowly: ` +
    "one word at a time, each appended to a durable stream as it comes. Reload this page now and the " +
    "answer carries on where it was; open a second tab and it streams the same words. The generation " +
    "runs on the server to its end, whoever is reading.";
  return text.split(" ").map((word, index, words) => (index < words.length - 1 ? `${word} ` : word));
}

function lastUserText(prompt: LanguageModelV3Prompt): string {
  for (let index = prompt.length - 1; index >= 0; index--) {
    const message = prompt[index];
    if (message?.role !== "user") continue;
    return message.content.map((part) => (part.type === "text" ? part.text : "")).join("");
  }
  return "";
}

function replyStream(
  tokens: string[],
  options: DemoModelOptions,
  abortSignal: AbortSignal | undefined,
): ReadableStream<LanguageModelV3StreamPart> {
  let next = 0;
  let cancelled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const stopWaiting = () => {
    clearTimeout(timer);
    wake?.();
  };
  abortSignal?.addEventListener("abort", stopWaiting, { once: true });
  return new ReadableStream<LanguageModelV3StreamPart>({
    start(controller) {
      controller.enqueue({ type: "stream-start", warnings: [] });
      controller.enqueue({ type: "text-start", id: "text-0" });
    },
    // Pulled: a token is made only when the one before was taken, and only after its delay.
    async pull(controller) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, options.delayMs);
      });
      if (cancelled) return;
      if (abortSignal?.aborted) {
        // streamText reports the abort itself; the model just stops.
        controller.close();
        return;
      }
      const token = tokens[next++];
      if (token !== undefined) {
        options.onToken?.();
        controller.enqueue({ type: "text-delta", id: "text-0", delta: token });
      }
      if (next >= tokens.length) {
        controller.enqueue({ type: "text-end", id: "text-0" });
        controller.enqueue({
          type: "finish",
          finishReason: { unified: "stop", raw: "stop" },
          usage: {
            inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
            outputTokens: { total: tokens.length, text: tokens.length, reasoning: undefined },
          },
        });
        controller.close();
        abortSignal?.removeEventListener("abort", stopWaiting);
      }
    },
    cancel() {
      cancelled = true;
      abortSignal?.removeEventListener("abort", stopWaiting);
      stopWaiting();
    },
  });
}
