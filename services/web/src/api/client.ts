import {
  ApiError,
  NETWORK_ERROR_MESSAGE,
  SessionEndedError,
  errorFromBody,
  errorFromResponse,
  isAbort,
} from "./errors";
import type { TokenStore, Tokens } from "./tokens";
import type {
  ApiKey,
  Category,
  CreatedApiKey,
  Image,
  ImageSummary,
  Page,
  SearchParams,
  SearchResult,
  TokenPair,
  User,
} from "./types";

export type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export type ThumbnailSize = "small" | "large";
export type ProgressListener = (loaded: number, total: number) => void;

interface RequestOptions {
  method?: string;
  query?: Query;
  json?: unknown;
  signal?: AbortSignal;
}

/** What an upload request answered, before it is judged. */
interface RawAnswer {
  status: number;
  statusText: string;
  body: string;
  contentType: string | null;
  retryAfter: string | null;
}

export interface ApiClientOptions {
  store: TokenStore;
  baseUrl?: string;
  fetch?: typeof fetch;
  createXhr?: () => XMLHttpRequest;
  /** Called once when the session could not be renewed and the tokens were dropped. */
  onSessionEnded?: () => void;
}

/**
 * The public API, same origin. Every authorised call sends the access token; an answer of
 * 401 renews the pair with the refresh token once (shared by concurrent calls) and retries;
 * when renewal fails the session ends.
 */
export class ApiClient {
  private readonly store: TokenStore;
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly createXhr: () => XMLHttpRequest;
  private readonly onSessionEnded: () => void;
  private renewal: Promise<string | null> | null = null;

  constructor(options: ApiClientOptions) {
    this.store = options.store;
    this.baseUrl = options.baseUrl ?? "";
    // Bound: a bare `fetch` called as a method of another object throws "Illegal invocation".
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.createXhr = options.createXhr ?? (() => new XMLHttpRequest());
    this.onSessionEnded = options.onSessionEnded ?? (() => undefined);
  }

  get signedIn(): boolean {
    return this.store.read() !== null;
  }

  // ----- plumbing --------------------------------------------------------------------------

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetchImpl(this.baseUrl + path, init);
    } catch (error) {
      if (isAbort(error)) throw error;
      throw new ApiError(0, NETWORK_ERROR_MESSAGE);
    }
  }

  private init(options: RequestOptions, token: string | null): RequestInit {
    const headers: Record<string, string> = { Accept: "application/json, application/problem+json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const init: RequestInit = { method: options.method ?? "GET", headers, credentials: "omit" };
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    }
    if (options.signal) init.signal = options.signal;
    return init;
  }

  /** Runs `attempt` with the access token, renewing it once on 401. */
  private async authorised<T>(
    attempt: (token: string) => Promise<T>,
    unauthorised: (answer: T) => boolean,
  ): Promise<T> {
    const tokens = this.store.read();
    if (!tokens) throw new SessionEndedError();
    const first = await attempt(tokens.access_token);
    if (!unauthorised(first)) return first;
    const renewed = await this.renew(tokens.access_token);
    if (renewed === null) throw this.endSession();
    const second = await attempt(renewed);
    if (unauthorised(second)) throw this.endSession();
    return second;
  }

  /**
   * A fresh access token after `stale` was refused, or null when the session cannot go on.
   * Refresh tokens are single-use and presenting a used one ends the whole session, so
   * renewals never overlap: calls in this tab share one, and tabs take turns through a
   * Web Lock, each looking first whether another already renewed.
   */
  private renew(stale: string): Promise<string | null> {
    if (!this.renewal) {
      this.renewal = this.withRefreshLock(async () => {
        const current = this.store.read();
        if (!current) return null;
        if (current.access_token !== stale) return current.access_token;
        return this.refresh(current);
      }).finally(() => {
        this.renewal = null;
      });
    }
    return this.renewal;
  }

  private withRefreshLock<T>(run: () => Promise<T>): Promise<T> {
    const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
    // Web Locks exist in secure contexts (https, localhost); elsewhere tabs just race.
    return locks ? locks.request("pixtract-token-refresh", run) : run();
  }

  private async refresh(tokens: Tokens): Promise<string | null> {
    const response = await this.send(
      "/api/v1/auth/refresh",
      this.init({ method: "POST", json: { refresh_token: tokens.refresh_token } }, null),
    );
    if (!response.ok) {
      // Another tab may have rotated the pair meanwhile; its new token is as good.
      const now = this.store.read();
      if (now && now.refresh_token !== tokens.refresh_token) return now.access_token;
      if (response.status >= 500) throw await errorFromResponse(response);
      return null;
    }
    const pair = (await response.json()) as TokenPair;
    this.store.write({ access_token: pair.access_token, refresh_token: pair.refresh_token });
    return pair.access_token;
  }

  private endSession(): SessionEndedError {
    if (this.store.read() !== null) {
      this.store.write(null);
      this.onSessionEnded();
    }
    return new SessionEndedError();
  }

  /** An authorised request; throws ApiError for any answer that is not 2xx. */
  async request(path: string, options: RequestOptions = {}): Promise<Response> {
    const url = withQuery(path, options.query);
    const response = await this.authorised(
      (token) => this.send(url, this.init(options, token)),
      (r) => r.status === 401,
    );
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  async json<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(path, options);
    return (await response.json()) as T;
  }

  /** A request that needs no token (sign-in, sign-up). */
  private async anonymous<T>(path: string, options: RequestOptions): Promise<T> {
    const response = await this.send(path, this.init(options, null));
    if (!response.ok) throw await errorFromResponse(response);
    return (await response.json()) as T;
  }

  // ----- auth ------------------------------------------------------------------------------

  async register(email: string, password: string, name?: string): Promise<User> {
    return this.anonymous<User>("/api/v1/auth/register", {
      method: "POST",
      json: name ? { email, password, name } : { email, password },
    });
  }

  async signIn(email: string, password: string): Promise<void> {
    const pair = await this.anonymous<TokenPair>("/api/v1/auth/login", { method: "POST", json: { email, password } });
    this.store.write({ access_token: pair.access_token, refresh_token: pair.refresh_token });
  }

  /** Ends the session here and on the server; the server's answer does not matter. */
  async signOut(): Promise<void> {
    const tokens = this.store.read();
    this.store.write(null);
    if (!tokens) return;
    try {
      await this.send(
        "/api/v1/auth/logout",
        this.init({ method: "POST", json: { refresh_token: tokens.refresh_token } }, tokens.access_token),
      );
    } catch {
      // Signed out locally all the same; the refresh token expires on its own.
    }
  }

  me(): Promise<User> {
    return this.json<User>("/api/v1/auth/me");
  }

  listApiKeys(): Promise<{ items: ApiKey[] }> {
    return this.json("/api/v1/auth/api-keys");
  }

  createApiKey(name: string): Promise<CreatedApiKey> {
    return this.json("/api/v1/auth/api-keys", { method: "POST", json: { name } });
  }

  async revokeApiKey(id: string): Promise<void> {
    await this.request(`/api/v1/auth/api-keys/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  // ----- images ----------------------------------------------------------------------------

  listImages(
    options: { cursor?: string | null; limit?: number; category?: string; label?: string },
    signal?: AbortSignal,
  ): Promise<Page<ImageSummary>> {
    const { cursor, limit, category, label } = options;
    return this.json("/api/v1/images", { query: { cursor, limit, category, label }, signal });
  }

  getImage(id: string, signal?: AbortSignal): Promise<Image> {
    return this.json(`/api/v1/images/${encodeURIComponent(id)}`, { signal });
  }

  async deleteImage(id: string): Promise<void> {
    await this.request(`/api/v1/images/${encodeURIComponent(id)}`, { method: "DELETE" });
  }

  /** Image bytes fetched with the token (an <img src> could not send it). */
  async blob(path: string, signal?: AbortSignal): Promise<Blob> {
    const response = await this.request(path, { signal });
    return response.blob();
  }

  thumbnail(id: string, size: ThumbnailSize, signal?: AbortSignal): Promise<Blob> {
    return this.blob(withQuery(`/api/v1/images/${encodeURIComponent(id)}/thumbnail`, { size }), signal);
  }

  content(id: string, signal?: AbortSignal): Promise<Blob> {
    return this.blob(`/api/v1/images/${encodeURIComponent(id)}/content`, signal);
  }

  /**
   * Uploads one file with progress. One request per file, so one refused file (415, 413)
   * does not take the others down with it.
   */
  async upload(
    file: File,
    onProgress: ProgressListener = () => undefined,
    signal?: AbortSignal,
  ): Promise<ImageSummary> {
    const answer = await this.authorised(
      (token) => this.uploadOnce(file, token, onProgress, signal),
      (a) => a.status === 401,
    );
    if (answer.status < 200 || answer.status >= 300) {
      throw errorFromBody(answer.status, answer.statusText, answer.body, answer.contentType, answer.retryAfter);
    }
    const body = JSON.parse(answer.body) as { images: ImageSummary[] };
    const image = body.images[0];
    if (!image) throw new ApiError(answer.status, "The server accepted the upload but returned no image.");
    return image;
  }

  private uploadOnce(
    file: File,
    token: string,
    onProgress: ProgressListener,
    signal?: AbortSignal,
  ): Promise<RawAnswer> {
    return new Promise<RawAnswer>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new DOMException("The upload was cancelled.", "AbortError"));
        return;
      }
      const xhr = this.createXhr();
      const onAbort = (): void => xhr.abort();
      xhr.open("POST", `${this.baseUrl}/api/v1/images`);
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.setRequestHeader("Accept", "application/json, application/problem+json");
      xhr.upload.onprogress = (event: ProgressEvent) => {
        onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
      };
      xhr.onload = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve({
          status: xhr.status,
          statusText: xhr.statusText,
          body: xhr.responseText,
          contentType: xhr.getResponseHeader("content-type"),
          retryAfter: xhr.getResponseHeader("retry-after"),
        });
      };
      xhr.onerror = () => {
        signal?.removeEventListener("abort", onAbort);
        reject(new ApiError(0, NETWORK_ERROR_MESSAGE));
      };
      xhr.onabort = () => {
        signal?.removeEventListener("abort", onAbort);
        reject(new DOMException("The upload was cancelled.", "AbortError"));
      };
      signal?.addEventListener("abort", onAbort);
      const form = new FormData();
      form.append("files", file, file.name);
      xhr.send(form);
    });
  }

  // ----- search and categories ---------------------------------------------------------------

  search(params: SearchParams, signal?: AbortSignal): Promise<SearchResult> {
    return this.json("/api/v1/search", { query: { ...params }, signal });
  }

  async suggest(q: string, signal?: AbortSignal): Promise<string[]> {
    const body = await this.json<{ suggestions: string[] }>("/api/v1/search/suggest", { query: { q }, signal });
    return body.suggestions;
  }

  listCategories(signal?: AbortSignal): Promise<{ items: Category[] }> {
    return this.json("/api/v1/categories", { signal });
  }

  renameCategory(id: string, name: string): Promise<Category> {
    return this.json(`/api/v1/categories/${encodeURIComponent(id)}`, { method: "PATCH", json: { name } });
  }
}
