import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Image } from "../src/api/types";
import { ImageStore } from "../src/lib/imageStore";
import { summary } from "./fakes";

function image(id: string, state: Image["state"]): Image {
  return {
    ...summary(id, { state }),
    width: 1,
    height: 1,
    taken_at: null,
    stages: { tagging: "done", ocr: state === "ready" ? "done" : "pending", search: "pending" },
    labels: [],
    categories: [],
    faces: 0,
    colors: [],
    location: null,
    camera: null,
    text: null,
  };
}

describe("ImageStore", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("asks once however many screens want the same image", async () => {
    const getImage = vi.fn(async (id: string) => image(id, "ready"));
    const store = new ImageStore({ getImage });
    const [a, b] = await Promise.all([store.load("x"), store.load("x")]);
    expect(a).toBe(b);
    expect(getImage).toHaveBeenCalledOnce();
    await store.load("x");
    expect(getImage).toHaveBeenCalledOnce();
  });

  it("asks again about processing images until they are ready, then says so", async () => {
    const states: Image["state"][] = ["processing", "processing", "ready"];
    const getImage = vi.fn(async (id: string) => image(id, states.shift() ?? "ready"));
    const settled = vi.fn();
    const store = new ImageStore({ getImage }, { pollIntervalMs: 1000, onSettled: settled });
    await store.load("x");
    expect(store.get("x")?.state).toBe("processing");
    expect(store.watching).toEqual(["x"]);

    await vi.advanceTimersByTimeAsync(1000);
    expect(store.get("x")?.state).toBe("processing");
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.get("x")?.state).toBe("ready");
    expect(store.watching).toEqual([]);
    expect(settled).toHaveBeenCalledOnce();

    await vi.advanceTimersByTimeAsync(5000);
    expect(getImage).toHaveBeenCalledTimes(3);
  });

  it("asks about a few at a time and stops asking about deleted images", async () => {
    const getImage = vi.fn(async (id: string) => {
      if (id === "gone") throw new Error("404");
      return image(id, "processing");
    });
    const store = new ImageStore({ getImage }, { pollIntervalMs: 1000, pollBatch: 2 });
    for (const id of ["a", "b", "c", "gone"]) store.watch(id);
    await vi.advanceTimersByTimeAsync(1000);
    expect(getImage.mock.calls.map((c) => c[0])).toEqual(["a", "b"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(getImage.mock.calls.map((c) => c[0])).toEqual(["a", "b", "c", "gone"]);
    expect(store.watching).toEqual(["a", "b", "c"]);
    store.clear();
    await vi.advanceTimersByTimeAsync(5000);
    expect(getImage).toHaveBeenCalledTimes(4);
  });
});
