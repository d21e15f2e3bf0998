// Test doubles for the browser's network: a scripted fetch and a scripted XMLHttpRequest.
import type { ImageSummary } from "../src/api/types";

export interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

export type Responder = (call: Call) => Response | Promise<Response>;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": type, ...headers },
  });
}

export function problem(status: number, detail: string, extra: Record<string, unknown> = {}): Response {
  return json(status, { type: "about:blank", title: "Error", status, detail, ...extra });
}

/** A fetch that records calls and answers with the first responder whose route matches. */
export class FakeFetch {
  readonly calls: Call[] = [];
  private readonly routes: { method: string; path: RegExp; respond: Responder }[] = [];

  on(method: string, path: RegExp, respond: Responder): this {
    this.routes.push({ method, path, respond });
    return this;
  }

  readonly fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = String(input);
    const method = init.method ?? "GET";
    const headers = { ...(init.headers as Record<string, string>) };
    const body = typeof init.body === "string" ? JSON.parse(init.body) : init.body;
    const call = { url, method, headers, body };
    this.calls.push(call);
    const route = this.routes.find((r) => r.method === method && r.path.test(url));
    if (!route) throw new Error(`unexpected ${method} ${url}`);
    return route.respond(call);
  };

  callsTo(path: RegExp): Call[] {
    return this.calls.filter((call) => path.test(call.url));
  }
}

export interface XhrScript {
  status: number;
  body: unknown;
  /** Progress events sent before the answer: [loaded, total]. */
  progress?: [number, number][];
  network?: boolean;
}

/** Scripted XMLHttpRequests, one script per request in order. */
export class FakeXhrFactory {
  readonly sent: { url: string; headers: Record<string, string>; body: FormData }[] = [];
  readonly open: FakeXhr[] = [];

  constructor(private readonly scripts: XhrScript[]) {}

  readonly create = (): XMLHttpRequest => {
    const script = this.scripts.shift();
    if (!script) throw new Error("no more scripted uploads");
    const xhr = new FakeXhr(script, this);
    this.open.push(xhr);
    return xhr as unknown as XMLHttpRequest;
  };
}

class FakeXhr {
  status = 0;
  statusText = "";
  responseText = "";
  upload: { onprogress: ((event: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  private url = "";
  private readonly headers: Record<string, string> = {};
  private aborted = false;

  constructor(
    private readonly script: XhrScript,
    private readonly factory: FakeXhrFactory,
  ) {}

  open(_method: string, url: string): void {
    this.url = url;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  getResponseHeader(name: string): string | null {
    return name.toLowerCase() === "content-type"
      ? this.script.status >= 400
        ? "application/problem+json"
        : "application/json"
      : null;
  }

  send(body: FormData): void {
    this.factory.sent.push({ url: this.url, headers: { ...this.headers }, body });
    queueMicrotask(() => {
      if (this.aborted) return;
      for (const [loaded, total] of this.script.progress ?? []) {
        this.upload.onprogress?.({ loaded, total, lengthComputable: true } as ProgressEvent);
      }
      if (this.script.network) {
        this.onerror?.();
        return;
      }
      this.status = this.script.status;
      this.responseText = JSON.stringify(this.script.body);
      this.onload?.();
    });
  }

  abort(): void {
    this.aborted = true;
    this.onabort?.();
  }
}

export function summary(id: string, extra: Partial<ImageSummary> = {}): ImageSummary {
  return {
    id,
    filename: `${id}.jpg`,
    content_type: "image/jpeg",
    size: 100,
    sha256: "0".repeat(64),
    state: "processing",
    uploaded_at: "2026-11-28T10:00:00Z",
    ...extra,
  };
}

export function tokenPair(n: number): Record<string, unknown> {
  return { access_token: `access-${n}`, refresh_token: `refresh-${n}`, token_type: "bearer", expires_in: 900 };
}
