/**
 * Thrown by a hub whose shared backend (Redis) cannot answer in time. The app answers it with a
 * fast `503 backend_unavailable` and `Retry-After`: the request did nothing, try again shortly.
 */
export class BackendUnavailableError extends Error {
  constructor(
    readonly backend: string,
    cause?: unknown,
  ) {
    super(`${backend} is unreachable`, { cause });
    this.name = "BackendUnavailableError";
  }
}
