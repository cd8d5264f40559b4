/**
 * A feed message: what `POST /api/messages` creates and every subscriber receives, as
 * camelCase JSON (as the seed's ASP.NET controller sends it).
 */
import { z } from "zod";
import { encodeEvent } from "../sse/index.ts";

export interface Message {
  /** Positive, strictly increasing within its channel; also the SSE event id. */
  id: number;
  text: string;
  author: string | null;
  /** ISO-8601, UTC. */
  createdAt: string;
}

const codePoints = (text: string) => [...text].length;

export const MESSAGE_LIMITS = { textMax: 2000, authorMax: 64, bodyBytes: 16 * 1024 } as const;

/** The body of `POST /api/messages`. Lengths count characters (code points), not UTF-16 units. */
export const newMessageSchema = z.object({
  text: z
    .string()
    .refine((text) => text.trim() !== "", "must not be empty or blank")
    .refine(
      (text) => codePoints(text) <= MESSAGE_LIMITS.textMax,
      `must be at most ${MESSAGE_LIMITS.textMax} characters`,
    ),
  author: z
    .string()
    .refine(
      (author) => codePoints(author) <= MESSAGE_LIMITS.authorMax,
      `must be at most ${MESSAGE_LIMITS.authorMax} characters`,
    )
    .optional(),
});

export type NewMessage = z.output<typeof newMessageSchema>;

/** The SSE event for a message: `id:` is the message id, data its JSON. Encoded once per message. */
export function encodeMessage(message: Message): Uint8Array {
  return encodeEvent({ id: message.id, data: JSON.stringify(message) });
}
