/** The SHA-1 of a Lua script, as EVALSHA names it (Web Crypto: no `node:crypto` needed). */
export async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Runs a script by its SHA-1 (`send` gets EVALSHA's arguments, or EVAL's). Only if Redis forgot it
 * (restarted, or SCRIPT FLUSH) is it sent whole: nothing ran, so that is not a second run. Told by
 * the error's text, so that this file needs no import of `redis` (connect.ts loads it on demand).
 */
export async function runScript<T, A extends string | Uint8Array>(
  send: (args: (string | A)[]) => Promise<T>,
  script: string,
  sha: string,
  args: (string | A)[],
): Promise<T> {
  return runScriptWith(send, script, ["EVALSHA", sha, ...args]);
}

/**
 * As runScript, with EVALSHA's arguments built by the caller (`evalsha`: "EVALSHA", the SHA-1, then the
 * script's arguments), so that a hot path copies no array: they are reused for EVAL if needed.
 */
export function runScriptWith<T, A extends string | Uint8Array>(
  send: (args: (string | A)[]) => Promise<T>,
  script: string,
  evalsha: (string | A)[],
): Promise<T> {
  return send(evalsha).catch((error: unknown) => {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    evalsha[0] = "EVAL";
    evalsha[1] = script;
    return send(evalsha);
  });
}
