/**
 * The demo chat's settings (src/app/chat.ts). Kept here until src/config.ts, being rewritten to one
 * declaration per setting, takes them in; until then the Node, Bun and Deno entries read them with
 * `readChatSettings` and pass them to the app.
 */

export interface ChatSettings {
  /** Time between two tokens of the demo model (ms): slow enough to reload mid-answer. */
  demoModelDelayMs: number;
  /**
   * How long an answer stays resumable after its last read or write, in seconds: its stream's
   * sliding TTL. After that `GET /api/chat/:id/stream` answers 204.
   */
  answerTtlSeconds: number;
  /** Answers in flight at once per client address; beyond it `POST /api/chat` answers 429. 0: no cap. */
  maxAnswersPerClient: number;
}

export const DEMO_MODEL_DELAY_MS = 150;
// Long enough to reconnect after a network change; short enough that a client which kept the finished
// message itself (useChat's persisted messages) is not sent it again on its next page load.
export const CHAT_ANSWER_TTL_SECONDS = 60;
export const CHAT_MAX_ANSWERS_PER_CLIENT = 3;

export const DEFAULT_CHAT_SETTINGS: Readonly<ChatSettings> = {
  demoModelDelayMs: DEMO_MODEL_DELAY_MS,
  answerTtlSeconds: CHAT_ANSWER_TTL_SECONDS,
  maxAnswersPerClient: CHAT_MAX_ANSWERS_PER_CLIENT,
};

const ENV_NAMES: Record<keyof ChatSettings, string> = {
  demoModelDelayMs: "DEMO_MODEL_DELAY_MS",
  answerTtlSeconds: "CHAT_ANSWER_TTL_SECONDS",
  maxAnswersPerClient: "CHAT_MAX_ANSWERS_PER_CLIENT",
};

/** The settings from the environment; a malformed value throws a TypeError that names it. */
export function readChatSettings(env: Record<string, unknown>): ChatSettings {
  const settings = { ...DEFAULT_CHAT_SETTINGS };
  for (const key of Object.keys(ENV_NAMES) as (keyof ChatSettings)[]) {
    const raw = env[ENV_NAMES[key]];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`${ENV_NAMES[key]} must be a whole number of 0 or more, not ${JSON.stringify(raw)}`);
    }
    settings[key] = value;
  }
  // A TTL of 0 would expire an answer before anyone read it.
  if (settings.answerTtlSeconds === 0) throw new TypeError("CHAT_ANSWER_TTL_SECONDS must be 1 or more");
  return settings;
}
