/**
 * An answer as the process that generates it holds it while it runs: its chunks, each as the JSON
 * text of its event, in the order they are appended to the answer's stream. A reader in that process
 * (the POST that started the answer, a second tab served by the same process) reads them from here
 * as they come, without waiting for the log to store each one: on Redis that is a round trip per
 * token, which resumable-stream's first reader does not wait for either. Readers anywhere else, and
 * any reader once the answer has ended, read the log (answer-response.ts).
 *
 * Every reader still rebuilds the same message: while the answer runs, its generation is the only
 * writer of its stream (the chat's stop goes through it: `stopAnswer`), so the log receives exactly
 * these chunks, in this order, and a reader here gets the end only once the log has stored it. When
 * the log takes the answer out of the generation's hands (someone else closed or deleted the stream,
 * or the log refused or failed an append) the answer is handed over: a reader here goes on in the log
 * from the last chunk the log stored, and one that was already sent a chunk the log never stored is
 * cut off without `[DONE]` (the AI SDK's client then knows the message is incomplete; a resume
 * rebuilds it from the log), unless the log lost the whole answer, which every reader is told alike.
 *
 * Kept per log object: an answer is live only to readers of the log it is written to (on Workers the
 * answers' Durable Object has a log of its own, and its readers are Worker requests elsewhere).
 */
import type { StreamLog } from "../hub/log.ts";
import { encodeEvent } from "../sse/encode.ts";
import type { AnswerEnd } from "./answer.ts";

/** How a live answer ended, as its readers here see it. */
export type LiveEnding =
  /** The log stored the whole answer and closed it: every chunk here, then `[DONE]`. */
  | { kind: "closed" }
  /**
   * The log has the answer from here on: its first `chunks` chunks are the ones here, and the log's
   * entries from `position` on are what follows them.
   */
  | { kind: "handed-over"; chunks: number; position: number };

/** A reader of a live answer here: told of each chunk as it comes, and of the end. */
export interface LiveListener {
  /** Chunk `index` came; `frame` is its event, encoded once for every listener. */
  chunk(index: number, frame: Uint8Array): void;
  ended(): void;
}

export class LiveAnswer {
  /** The chunks so far, each its event's `data:` (heartbeats are not chunks). */
  readonly chunks: string[] = [];
  readonly listeners = new Set<LiveListener>();
  private ending: LiveEnding | undefined;

  constructor(
    /** Stops the generation (as `Answer.stop`). */
    readonly stop: (reason?: string) => void,
    /** Resolves once the answer has ended. */
    readonly ended: Promise<AnswerEnd>,
  ) {}

  get end(): LiveEnding | undefined {
    return this.ending;
  }

  push(chunk: string): void {
    const index = this.chunks.push(chunk) - 1;
    if (this.listeners.size === 0) return;
    // Every reader that is caught up writes these same bytes, in the tick the chunk came.
    const frame = encodeEvent({ data: chunk });
    for (const listener of this.listeners) listener.chunk(index, frame);
  }

  /** The log stored the last chunks (pushed before this) and closed the stream. */
  closed(): void {
    this.finish({ kind: "closed" });
  }

  /** The log takes over after `chunks` of the chunks here, at its entry `position`. */
  handOver(chunks: number, position: number): void {
    this.finish({ kind: "handed-over", chunks, position });
  }

  private finish(ending: LiveEnding): void {
    if (this.ending !== undefined) return;
    this.ending = ending;
    for (const listener of [...this.listeners]) listener.ended();
  }
}

const liveByLog = new WeakMap<StreamLog, Map<string, LiveAnswer>>();

/** The answer `name` if it is being generated here into `log`. */
export function liveAnswerOf(log: StreamLog, name: string): LiveAnswer | undefined {
  return liveByLog.get(log)?.get(name);
}

/** Makes `answer` live to this process's readers of `log` until the returned function is called. */
export function holdLive(log: StreamLog, name: string, answer: LiveAnswer): () => void {
  let answers = liveByLog.get(log);
  if (answers === undefined) {
    answers = new Map();
    liveByLog.set(log, answers);
  }
  answers.set(name, answer);
  return () => {
    if (answers.get(name) === answer) answers.delete(name);
  };
}
