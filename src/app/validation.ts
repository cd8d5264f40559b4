/**
 * Request validation with zod, reported in the project's error shape (see errors.ts).
 */
import type { Context } from "hono";
import type { z } from "zod";
import { HttpError } from "./errors.ts";

/** Parses `value` or throws a 400 that names the first offending field. */
export function parseOrThrow<Schema extends z.ZodType>(schema: Schema, value: unknown, what: string): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalid(result.error, what);
}

/**
 * The query string as an object, a repeated parameter as an array (as Hono's validator sees it),
 * so that `?interval=1&interval=2` fails a schema that wants one string instead of using the first.
 */
export function queryOf(c: Context): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    query[name] = values.length === 1 ? (values[0] as string) : values;
  }
  return query;
}

/** The part of zod's error (classic or core) that the message is built from. */
interface ValidationFailure {
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>;
}

function invalid(error: ValidationFailure, what: string): HttpError {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${what}.${issue.path.map(String).join(".")}` : what;
  return new HttpError(400, `invalid_${what}`, `${where}: ${issue?.message ?? "invalid"}`);
}
