/**
 * Who may publish to and read which channel, decided by JSON Web Tokens (RFC 7519) signed with
 * `AUTH_SECRET` and checked by hono/jwt (WebCrypto, so the same in workerd). Off unless the secret
 * is set; then every publish needs a token, and reading a private channel (`PRIVATE_CHANNELS`) does.
 *
 * The claims, in the spirit of Mercure's: `{ "sse": { "publish": [...], "subscribe": [...] }, "sub",
 * "exp" }`, each entry a channel name, a name ending in `*` (any rest) or `*` alone (every channel).
 * Answers follow RFC 6750 §3: 401 with a `WWW-Authenticate: Bearer` challenge when the token is
 * missing or bad, 403 (`insufficient_scope`) when a good token does not name the channel.
 */
import type { Context, MiddlewareHandler, Next } from "hono";
import { getCookie } from "hono/cookie";
import { verify } from "hono/jwt";
import { z } from "zod";
import type { Config } from "../config.ts";
import type { StreamDeadline } from "../sse/index.ts";
import { HttpError } from "./errors.ts";
import { passThrough } from "./pass-through.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The verified publish token's `sub`: whom the publish rate limit counts. */
    tokenSubject: string | undefined;
    /**
     * How a stream this request opens must end: at the expiry of the token that let it read, with
     * an event that says so (see tokenDeadline). Undefined without a token, or one without `exp`.
     */
    streamDeadline: StreamDeadline | undefined;
  }
}

/** Resolves (and validates) the channel a request is about. */
export type ChannelOf = (c: Context) => string;

/** Resolves (and validates) the channels a request reads. */
export type ChannelsOf = (c: Context) => readonly string[];

/** Middleware that let a request through only if it may publish to, or read, its channel. */
export interface ChannelAccess {
  publish(channelOf: ChannelOf): MiddlewareHandler;
  read(channelOf: ChannelOf): MiddlewareHandler;
  /** All or nothing: the first channel it may not read refuses the request, and names that channel. */
  readEach(channelsOf: ChannelsOf): MiddlewareHandler;
}

/** The query parameter a stream request may carry its token in (EventSource cannot set headers). */
export const TOKEN_PARAMETER = "authorization";

const OPEN: ChannelAccess = { publish: () => passThrough, read: () => passThrough, readEach: () => passThrough };

/**
 * @param alwaysPrivate patterns read only with a token whatever PRIVATE_CHANNELS says (the demo
 * chat's answers, `ai/chat/*`: a conversation is its user's)
 */
export function channelAccess(config: Config, alwaysPrivate: readonly string[] = []): ChannelAccess {
  if (config.authSecret === "") return OPEN;
  const { authSecret, authAlgorithm, authCookie } = config;
  const privateChannels = [...config.privateChannels, ...alwaysPrivate];

  async function verifiedGrants(token: string) {
    let claims: unknown;
    try {
      claims = await verify(token, authSecret, authAlgorithm);
    } catch (error) {
      throw unauthorized(failureOf(error, authAlgorithm), "invalid_token");
    }
    const parsed = claimsSchema.safeParse(claims);
    // A validly signed token whose claims are not even an object grants nothing (403), never a 5xx.
    return parsed.success ? parsed.data : { sub: undefined, exp: undefined, sse: { publish: [], subscribe: [] } };
  }

  return {
    publish: (channelOf) => async (c, next) => {
      // Only the header: a cookie would be sent by the browser on a cross-site form POST (CSRF).
      const token = bearerToken(c);
      if (token === undefined) throw unauthorized("publishing needs a token: send Authorization: Bearer <JWT>");
      const grants = await verifiedGrants(token);
      const channel = channelOf(c);
      if (!matchesChannel(grants.sse.publish, channel)) {
        throw forbidden(`the token does not allow publishing to channel ${channel}`);
      }
      c.set("tokenSubject", grants.sub);
      return next();
    },

    read: (channelOf) => (c, next) => readChecked(c, next, [channelOf(c)]),
    readEach: (channelsOf) => (c, next) => readChecked(c, next, channelsOf(c)),
  };

  async function readChecked(c: Context, next: Next, channels: readonly string[]) {
    const guarded = channels.filter((channel) => matchesChannel(privateChannels, channel));
    const first = guarded[0];
    if (first === undefined) return next();
    // The explicit places first; the cookie comes along with every request to this site.
    const token = bearerToken(c) ?? queryToken(c) ?? nonEmpty(getCookie(c, authCookie));
    if (token === undefined) {
      throw unauthorized(
        `channel ${first} is private: send a token as Authorization: Bearer, ?${TOKEN_PARAMETER}= or the ${authCookie} cookie`,
      );
    }
    const grants = await verifiedGrants(token);
    for (const channel of guarded) {
      if (!matchesChannel(grants.sse.subscribe, channel)) {
        throw forbidden(`the token does not allow reading channel ${channel}`);
      }
    }
    c.set("streamDeadline", grants.exp === undefined ? undefined : tokenDeadline(grants.exp * 1000, config.retryMs));
    await next();
    // A token from the query or a cookie leaves no Authorization header to stop a shared cache
    // (RFC 9111 §3.5) from serving this history to the next caller. Streams bring their own.
    if (!c.res.headers.has("cache-control")) c.header("cache-control", "private, no-store");
  }
}

/**
 * The event that ends a stream opened with a token when the token expires: the client reconnects
 * after `retry` ms with a fresh token, from its Last-Event-ID (or offset), and misses nothing.
 */
export const TOKEN_EXPIRED_EVENT = "token-expired";

/** A stream's end at `at`, its token's expiry: the event, then a reconnection after `retryMs`. */
export function tokenDeadline(at: number, retryMs: number): StreamDeadline {
  const data = JSON.stringify({
    error: { code: "token_expired", message: "the token has expired: reconnect with a fresh one" },
  });
  return { at, event: { event: TOKEN_EXPIRED_EVENT, data, retry: retryMs } };
}

/** True if a pattern names the channel: equal, or a prefix ending in `*` (so `*` is every channel). */
export function matchesChannel(patterns: readonly string[], channel: string): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith("*") ? channel.startsWith(pattern.slice(0, -1)) : pattern === channel,
  );
}

// Missing or malformed parts grant nothing.
const grantList = z.array(z.string()).catch([]);
const claimsSchema = z.object({
  sub: z.string().optional().catch(undefined),
  // hono/jwt has checked it is in the future; a stream it opened ends then (tokenDeadline).
  exp: z.number().optional().catch(undefined),
  sse: z.object({ publish: grantList, subscribe: grantList }).catch({ publish: [], subscribe: [] }),
});

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

function bearerToken(c: Context): string | undefined {
  const header = c.req.header("authorization");
  if (header === undefined || header === "") return undefined;
  const match = BEARER.exec(header);
  if (!match) throw unauthorized("the Authorization header must be 'Bearer <token>'", "invalid_request");
  return match[1];
}

function queryToken(c: Context): string | undefined {
  const values = c.req.queries(TOKEN_PARAMETER) ?? [];
  if (values.length > 1) throw unauthorized(`send one ?${TOKEN_PARAMETER}= token`, "invalid_request");
  return nonEmpty(values[0]);
}

const nonEmpty = (value: string | undefined) => (value === "" ? undefined : value);

/** What went wrong, in words that never repeat the token (hono/jwt's own messages include it). */
function failureOf(error: unknown, algorithm: string): string {
  switch (error instanceof Error ? error.name : "") {
    case "JwtTokenExpired":
      return "the token has expired";
    case "JwtTokenNotBefore":
      return "the token is not valid yet";
    case "JwtTokenIssuedAt":
      return "the token is issued in the future";
    case "JwtHeaderInvalid":
    case "JwtAlgorithmMismatch":
      return `the token must be a JWT signed with ${algorithm}`;
    case "JwtTokenSignatureMismatched":
      return "the token's signature does not match";
    default:
      return "the token is not a well-formed JWT";
  }
}

function unauthorized(message: string, error?: "invalid_request" | "invalid_token"): HttpError {
  // RFC 6750 §3.1: a request with no token at all gets the bare challenge, without an error code.
  const challenge = error === undefined ? "Bearer" : `Bearer error="${error}", error_description="${message}"`;
  return new HttpError(401, "unauthorized", message, { "WWW-Authenticate": challenge });
}

function forbidden(message: string): HttpError {
  const challenge = `Bearer error="insufficient_scope", error_description="${message}"`;
  return new HttpError(403, "forbidden", message, { "WWW-Authenticate": challenge });
}
