/** Publications for tests of the hub: the demo's message, as src/app/messages.ts publishes it. */
import type { Publication } from "../../src/hub/channel-event.ts";

/** A `{text, author}` message that carries its id first, as the seed's messages do. */
export function say(text: string, author: string | null = null): Publication {
  return { data: { text, author, createdAt: new Date().toISOString() }, idInData: true };
}
