import type { Problem } from "./types";

/** An API call that did not succeed, with the server's own words (problem+json `detail`). */
export class ApiError extends Error {
  override readonly name = "ApiError";

  constructor(
    readonly status: number,
    message: string,
    readonly problem: Problem = {},
    /** Seconds to wait before trying again (429 with Retry-After). */
    readonly retryAfter: number | null = null,
  ) {
    super(message);
  }

  /** Validation messages per field name (`errors[].loc` ends with the field). */
  get fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const error of this.problem.errors ?? []) {
      const field = error.loc?.[error.loc.length - 1];
      if (typeof field === "string" && error.msg && !(field in out)) out[field] = error.msg;
    }
    return out;
  }
}

export class SessionEndedError extends ApiError {
  constructor() {
    super(401, "Your session has ended. Sign in again to go on.");
  }
}

export const NETWORK_ERROR_MESSAGE = "Pixtract cannot be reached. Check your connection and try again.";

const FALLBACK_MESSAGES: Record<number, string> = {
  401: "You are not signed in.",
  403: "You are not allowed to do that.",
  404: "It is not there any more, or it never was.",
  413: "The file is too large.",
  415: "The file is not a supported image.",
  429: "Too many attempts. Wait a little and try again.",
  502: "Pixtract is not answering right now. Try again in a moment.",
  503: "Pixtract is not answering right now. Try again in a moment.",
  504: "Pixtract took too long to answer. Try again in a moment.",
};

function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** The error for a non-2xx answer: problem+json when the server sent it, else a plain sentence. */
export function errorFromBody(
  status: number,
  statusText: string,
  body: string,
  contentType: string | null,
  retryAfterHeader: string | null = null,
): ApiError {
  let problem: Problem = {};
  if (contentType && /json/i.test(contentType) && body) {
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed === "object" && parsed !== null) problem = parsed as Problem;
    } catch {
      // Not JSON after all: fall back to the status.
    }
  }
  const retryAfter = parseRetryAfter(retryAfterHeader);
  let message =
    (typeof problem.detail === "string" && problem.detail) ||
    FALLBACK_MESSAGES[status] ||
    (typeof problem.title === "string" && problem.title) ||
    `The server answered ${status}${statusText ? ` ${statusText}` : ""}.`;
  if (retryAfter !== null && status === 429 && !/\d/.test(message)) {
    message += ` Try again in ${retryAfter} second${retryAfter === 1 ? "" : "s"}.`;
  }
  return new ApiError(status, message, problem, retryAfter);
}

export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body = "";
  try {
    body = await response.text();
  } catch {
    // The body could not be read: the status alone will do.
  }
  return errorFromBody(
    response.status,
    response.statusText,
    body,
    response.headers.get("content-type"),
    response.headers.get("retry-after"),
  );
}

/** Trying the same again later may work: the network or the server, not the request, failed. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  return error.status === 0 || error.status === 408 || error.status === 429 || error.status >= 500;
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** Words for any failure, for showing to the person. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong.";
}
