/**
 * The demo feed's message (the seed's "real-world" example): what `POST /api/messages` takes and
 * every subscriber receives, as camelCase JSON (as the seed's ASP.NET controller sends it):
 * `{"id":N,"text":...,"author":...,"createdAt":...}`. On the hub it is an ordinary channel event
 * whose data is this object, the id written in first by the hub (`idInData`).
 */
import { z } from "zod";

export interface Message {
  /** The channel event's id: positive, strictly increasing within its channel; also the SSE id. */
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

/** The event's data without its id, in the seed's member order: the hub writes `"id"` in front. */
export function messageData(input: NewMessage, createdAt: string): Omit<Message, "id"> {
  return { text: input.text, author: input.author ?? null, createdAt };
}
