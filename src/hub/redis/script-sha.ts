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
  try {
    return await send(["EVALSHA", sha, ...args]);
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
    return await send(["EVAL", script, ...args]);
  }
}
