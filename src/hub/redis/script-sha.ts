/** The SHA-1 of a Lua script, as EVALSHA names it (Web Crypto: no `node:crypto` needed). */
export async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
