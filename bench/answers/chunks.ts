/**
 * The answer both sides of `npm run bench:answers` stream: the AI SDK's UI message chunks of one text
 * part, one `text-delta` token every `tokenMs`, each token saying `seq=<k> t=<ms since the epoch>`
 * (the load client's marker and send time, see bench/load/subscribers.ts). edge-sse's bench server and
 * the resumable-stream peer both stream exactly these chunks at this pace, so they move the same bytes.
 * Runtime-neutral (Node, Bun, Deno): no `node:` import.
 */

export interface AnswerPace {
  /** text-delta chunks in the answer. */
  tokens: number;
  /** ms between two tokens: 50 is 20 tokens/s. */
  tokenMs: number;
}

// Its abort listener goes when it ends: one left per token would pile up on the answer's signal (200
// on it by the end of an answer), and everything else listening there (edge-sse's generation loop)
// would pay for walking them; the resumable-stream peer passes no signal and paid nothing.
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });

/** The answer's chunks, paced: `start`, `text-start`, the tokens, `text-end`, `finish`. */
export async function* answerChunks(pace: AnswerPace, signal?: AbortSignal): AsyncGenerator<object> {
  yield { type: "start" };
  yield { type: "text-start", id: "text-0" };
  for (let seq = 1; seq <= pace.tokens && !signal?.aborted; seq++) {
    await sleep(pace.tokenMs, signal);
    if (signal?.aborted) return;
    yield {
      type: "text-delta",
      id: "text-0",
      delta: `seq=${seq} t=${(performance.timeOrigin + performance.now()).toFixed(3)} `,
    };
  }
  yield { type: "text-end", id: "text-0" };
  yield { type: "finish" };
}

/** The pace from the environment the benchmark gives both servers (ANSWER_TOKENS, TOKEN_MS). */
export function paceFrom(read: (name: string) => string | undefined): AnswerPace {
  return { tokens: Number(read("ANSWER_TOKENS") ?? 200), tokenMs: Number(read("TOKEN_MS") ?? 50) };
}

/** `pace`, with a request's `?tokens=` in place of its length: the benchmark's warm-up answers are short. */
export function paceOf(url: URL, pace: AnswerPace): AnswerPace {
  const tokens = url.searchParams.get("tokens");
  return tokens === null ? pace : { ...pace, tokens: Number(tokens) };
}
