import { describe, expect, it, vi } from "vitest";

import { ApiClient, withQuery } from "../src/api/client";
import { ApiError, SessionEndedError } from "../src/api/errors";
import { MemoryTokenStore } from "../src/api/tokens";
import { FakeFetch, FakeXhrFactory, json, problem, summary, tokenPair } from "./fakes";

function client(fake: FakeFetch, options: { xhr?: FakeXhrFactory; onSessionEnded?: () => void } = {}) {
  const store = new MemoryTokenStore({ access_token: "access-0", refresh_token: "refresh-0" });
  const api = new ApiClient({
    store,
    fetch: fake.fetch,
    createXhr: options.xhr?.create,
    onSessionEnded: options.onSessionEnded,
  });
  return { api, store };
}

describe("ApiClient", () => {
  it("sends the access token and leaves empty query values out", async () => {
    const fake = new FakeFetch().on("GET", /\/api\/v1\/images\?/, () => json(200, { items: [], next_cursor: null }));
    const { api } = client(fake);
    await api.listImages({ cursor: null, limit: 60, category: "beach", label: "" });
    expect(fake.calls[0]?.url).toBe("/api/v1/images?limit=60&category=beach");
    expect(fake.calls[0]?.headers.Authorization).toBe("Bearer access-0");
    expect(withQuery("/x", { a: "1 2", b: undefined })).toBe("/x?a=1+2");
  });

  it("turns problem+json into an error carrying the server's detail", async () => {
    const fake = new FakeFetch().on("GET", /search/, () =>
      problem(400, "The query could not be understood: Cannot parse 'a AND ('."),
    );
    const { api } = client(fake);
    const error = await api.search({ q: "a AND (" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).message).toBe("The query could not be understood: Cannot parse 'a AND ('.");
  });

  it("says something useful when there is no problem document", async () => {
    const fake = new FakeFetch()
      .on("GET", /categories/, () => new Response("<html>bad gateway</html>", { status: 502 }))
      .on("GET", /auth\/me/, () => Promise.reject(new TypeError("Failed to fetch")));
    const { api } = client(fake);
    await expect(api.listCategories()).rejects.toThrow("Pixtract is not answering right now");
    await expect(api.me()).rejects.toThrow("Pixtract cannot be reached");
  });

  it("adds the wait to a 429 and names fields of a validation error", async () => {
    const fake = new FakeFetch()
      .on("POST", /login/, () => problem(429, "Too many attempts.", {}))
      .on("POST", /register/, () =>
        problem(422, "The password must be at least 10 characters long.", {
          errors: [{ loc: ["body", "password"], msg: "The password must be at least 10 characters long." }],
        }),
      );
    const { api } = client(fake);
    const tooMany = (await api.signIn("a@b.c", "x").catch((e: unknown) => e)) as ApiError;
    expect(tooMany.status).toBe(429);
    const weak = (await api.register("a@b.c", "short").catch((e: unknown) => e)) as ApiError;
    expect(weak.fieldErrors).toEqual({ password: "The password must be at least 10 characters long." });
  });

  it("renews the access token once on 401 and retries with the new one", async () => {
    let served = 0;
    const fake = new FakeFetch()
      .on("GET", /auth\/me/, (call) =>
        call.headers.Authorization === "Bearer access-1"
          ? json(200, { id: "u", email: "a@b.c", name: null, created_at: "" })
          : problem(401, "expired"),
      )
      .on("POST", /auth\/refresh/, (call) => {
        served += 1;
        expect(call.body).toEqual({ refresh_token: "refresh-0" });
        return json(200, tokenPair(1));
      });
    const { api, store } = client(fake);
    const me = await api.me();
    expect(me.email).toBe("a@b.c");
    expect(served).toBe(1);
    expect(store.read()).toEqual({ access_token: "access-1", refresh_token: "refresh-1" });
  });

  it("shares one renewal among calls refused at the same time", async () => {
    const refresh = vi.fn(() => json(200, tokenPair(1)));
    const fake = new FakeFetch()
      .on("GET", /images/, (call) =>
        call.headers.Authorization === "Bearer access-1"
          ? json(200, { items: [], next_cursor: null })
          : problem(401, "expired"),
      )
      .on("POST", /auth\/refresh/, refresh);
    const { api } = client(fake);
    await Promise.all([api.listImages({}), api.listImages({}), api.listImages({})]);
    // The refresh token is single-use: a second renewal would have been refused.
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it("ends the session when the refresh token is refused", async () => {
    const ended = vi.fn();
    const fake = new FakeFetch()
      .on("GET", /images/, () => problem(401, "expired"))
      .on("POST", /auth\/refresh/, () => problem(401, "The refresh token is not valid."));
    const { api, store } = client(fake, { onSessionEnded: ended });
    await expect(api.listImages({})).rejects.toBeInstanceOf(SessionEndedError);
    expect(store.read()).toBeNull();
    expect(ended).toHaveBeenCalledTimes(1);
    // Signed out: no further call goes out.
    await expect(api.listImages({})).rejects.toBeInstanceOf(SessionEndedError);
    expect(fake.callsTo(/images/)).toHaveLength(1);
  });

  it("ends the session when even a renewed token is refused", async () => {
    const ended = vi.fn();
    const fake = new FakeFetch()
      .on("GET", /images/, () => problem(401, "no"))
      .on("POST", /auth\/refresh/, () => json(200, tokenPair(1)));
    const { api, store } = client(fake, { onSessionEnded: ended });
    await expect(api.listImages({})).rejects.toBeInstanceOf(SessionEndedError);
    expect(fake.callsTo(/auth\/refresh/)).toHaveLength(1);
    expect(store.read()).toBeNull();
    expect(ended).toHaveBeenCalledOnce();
  });

  it("keeps the session when the renewal fails for a server error", async () => {
    const fake = new FakeFetch()
      .on("GET", /images/, () => problem(401, "expired"))
      .on("POST", /auth\/refresh/, () => problem(503, "Auth is restarting."));
    const { api, store } = client(fake);
    await expect(api.listImages({})).rejects.toThrow("Auth is restarting.");
    expect(store.read()).not.toBeNull();
  });

  it("uses a token another tab renewed meanwhile instead of refreshing again", async () => {
    const fake = new FakeFetch();
    const { api, store } = client(fake);
    fake
      .on("GET", /images/, (call) => {
        if (call.headers.Authorization === "Bearer access-0") {
          // Another tab rotates the pair while this request is on its way.
          store.write({ access_token: "access-9", refresh_token: "refresh-9" });
          return problem(401, "expired");
        }
        return json(200, { items: [], next_cursor: null });
      })
      .on("POST", /auth\/refresh/, () => problem(401, "already used"));
    await api.listImages({});
    expect(fake.callsTo(/auth\/refresh/)).toHaveLength(0);
    expect(fake.callsTo(/images/).map((c) => c.headers.Authorization)).toEqual(["Bearer access-0", "Bearer access-9"]);
  });

  it("signs in, keeps the pair, and signs out locally whatever the server says", async () => {
    const fake = new FakeFetch()
      .on("POST", /login/, () => json(200, tokenPair(5)))
      .on("POST", /logout/, () => Promise.reject(new TypeError("offline")));
    const store = new MemoryTokenStore();
    const api = new ApiClient({ store, fetch: fake.fetch });
    await api.signIn("a@b.c", "a long passphrase");
    expect(store.read()?.refresh_token).toBe("refresh-5");
    expect(fake.calls[0]?.headers.Authorization).toBeUndefined();
    await api.signOut();
    expect(store.read()).toBeNull();
    expect(fake.callsTo(/logout/)[0]?.body).toEqual({ refresh_token: "refresh-5" });
  });
});

describe("ApiClient.upload", () => {
  const file = () => new File([new Uint8Array(300)], "beach.jpg", { type: "image/jpeg" });

  it("posts one file as `files`, reports progress and returns the summary", async () => {
    const xhr = new FakeXhrFactory([
      {
        status: 201,
        body: { images: [summary("img1")] },
        progress: [
          [100, 300],
          [300, 300],
        ],
      },
    ]);
    const { api } = client(new FakeFetch(), { xhr });
    const progress: [number, number][] = [];
    const image = await api.upload(file(), (loaded, total) => progress.push([loaded, total]));
    expect(image.id).toBe("img1");
    expect(progress).toEqual([
      [100, 300],
      [300, 300],
    ]);
    const [sent] = xhr.sent;
    expect(sent?.url).toBe("/api/v1/images");
    expect(sent?.headers.Authorization).toBe("Bearer access-0");
    expect((sent?.body.get("files") as File).name).toBe("beach.jpg");
  });

  it("gives the server's reason for a refused file", async () => {
    const xhr = new FakeXhrFactory([
      { status: 415, body: { status: 415, detail: "notes.txt is not a supported image: detected text." } },
    ]);
    const { api } = client(new FakeFetch(), { xhr });
    await expect(api.upload(file())).rejects.toThrow("notes.txt is not a supported image: detected text.");
  });

  it("renews the token and sends the file again after a 401", async () => {
    const xhr = new FakeXhrFactory([
      { status: 401, body: { status: 401, detail: "expired" } },
      { status: 201, body: { images: [summary("img2", { duplicate: true })] } },
    ]);
    const fake = new FakeFetch().on("POST", /auth\/refresh/, () => json(200, tokenPair(1)));
    const { api } = client(fake, { xhr });
    const image = await api.upload(file());
    expect(image.duplicate).toBe(true);
    expect(xhr.sent.map((s) => s.headers.Authorization)).toEqual(["Bearer access-0", "Bearer access-1"]);
  });

  it("fails in words when the network drops, and as an abort when cancelled", async () => {
    const xhr = new FakeXhrFactory([
      { status: 0, body: null, network: true },
      { status: 201, body: { images: [summary("img3")] } },
    ]);
    const { api } = client(new FakeFetch(), { xhr });
    await expect(api.upload(file())).rejects.toThrow("Pixtract cannot be reached");
    const controller = new AbortController();
    const pending = api.upload(file(), undefined, controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});

describe("renewal across tabs", () => {
  it("lets only one tab spend the refresh token; the other uses the new pair", async () => {
    // A Web Lock that runs holders one after another, as the browser's does.
    let queue: Promise<unknown> = Promise.resolve();
    const locks = {
      request: (_name: string, run: () => Promise<unknown>) => {
        const turn = queue.then(run);
        queue = turn.catch(() => undefined);
        return turn;
      },
    };
    vi.stubGlobal("navigator", { ...navigator, locks });
    try {
      const store = new MemoryTokenStore({ access_token: "access-0", refresh_token: "refresh-0" });
      let refreshes = 0;
      const fake = new FakeFetch()
        .on("GET", /images/, (call) =>
          call.headers.Authorization === "Bearer access-1"
            ? json(200, { items: [], next_cursor: null })
            : problem(401, "expired"),
        )
        .on("POST", /auth\/refresh/, async () => {
          refreshes += 1;
          await new Promise((resolve) => setTimeout(resolve, 5));
          return json(200, tokenPair(1));
        });
      // Two tabs: two clients over the same stored session.
      const tabA = new ApiClient({ store, fetch: fake.fetch });
      const tabB = new ApiClient({ store, fetch: fake.fetch });
      await Promise.all([tabA.listImages({}), tabB.listImages({})]);
      expect(refreshes).toBe(1);
      expect(store.read()?.refresh_token).toBe("refresh-1");
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
