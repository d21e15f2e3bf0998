// Where the signed-in session's tokens live. The refresh token has to survive a reload,
// so the browser store keeps the pair in localStorage; the app's Content-Security-Policy
// allows no third-party script that could read it.

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export type TokensListener = (tokens: Tokens | null) => void;

export interface TokenStore {
  read(): Tokens | null;
  write(tokens: Tokens | null): void;
  subscribe(listener: TokensListener): () => void;
}

function parseTokens(raw: string | null): Tokens | null {
  if (!raw) return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (
      typeof value === "object" &&
      value !== null &&
      typeof (value as Tokens).access_token === "string" &&
      typeof (value as Tokens).refresh_token === "string"
    ) {
      const { access_token, refresh_token } = value as Tokens;
      return { access_token, refresh_token };
    }
  } catch {
    // A damaged entry is the same as none: the person signs in again.
  }
  return null;
}

export class MemoryTokenStore implements TokenStore {
  private tokens: Tokens | null;
  private readonly listeners = new Set<TokensListener>();

  constructor(tokens: Tokens | null = null) {
    this.tokens = tokens;
  }

  read(): Tokens | null {
    return this.tokens;
  }

  write(tokens: Tokens | null): void {
    this.tokens = tokens;
    for (const listener of this.listeners) listener(tokens);
  }

  subscribe(listener: TokensListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export class BrowserTokenStore implements TokenStore {
  private readonly listeners = new Set<TokensListener>();

  constructor(
    private readonly storage: Storage = window.localStorage,
    private readonly key = "pixtract.session",
  ) {
    // Another tab signed in, out, or rotated the refresh token: follow it.
    window.addEventListener("storage", (event) => {
      if (event.key === this.key || event.key === null) this.notify(this.read());
    });
  }

  read(): Tokens | null {
    return parseTokens(this.storage.getItem(this.key));
  }

  write(tokens: Tokens | null): void {
    if (tokens === null) this.storage.removeItem(this.key);
    else this.storage.setItem(this.key, JSON.stringify(tokens));
    this.notify(tokens);
  }

  subscribe(listener: TokensListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(tokens: Tokens | null): void {
    for (const listener of this.listeners) listener(tokens);
  }
}
