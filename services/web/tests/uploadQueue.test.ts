import { describe, expect, it, vi } from "vitest";

import { ApiError } from "../src/api/errors";
import type { ImageSummary } from "../src/api/types";
import { UploadQueue, type Uploader } from "../src/lib/uploadQueue";
import { summary } from "./fakes";

interface Pending {
  file: File;
  progress: (loaded: number, total: number) => void;
  signal: AbortSignal;
  resolve: (image: ImageSummary) => void;
  reject: (error: unknown) => void;
}

/** An uploader whose requests the test finishes by hand. */
function manualUploader(): { uploader: Uploader; pending: Pending[] } {
  const pending: Pending[] = [];
  const uploader: Uploader = (file, progress, signal) =>
    new Promise<ImageSummary>((resolve, reject) => {
      const entry = { file, progress, signal, resolve, reject };
      signal.addEventListener("abort", () => reject(new DOMException("cancelled", "AbortError")));
      pending.push(entry);
    });
  return { uploader, pending };
}

const files = (...names: string[]) => names.map((name) => new File([new Uint8Array(1000)], name));
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("UploadQueue", () => {
  it("uploads a few files at a time, in order, with per-file progress", async () => {
    const { uploader, pending } = manualUploader();
    const queue = new UploadQueue(uploader, { concurrency: 2 });
    queue.add(files("a.jpg", "b.jpg", "c.jpg"));
    expect(queue.items.map((i) => i.status)).toEqual(["uploading", "uploading", "queued"]);
    expect(pending.map((p) => p.file.name)).toEqual(["a.jpg", "b.jpg"]);

    pending[0]?.progress(250, 1000);
    expect(queue.items[0]?.loaded).toBe(250);
    expect(queue.fraction).toBeCloseTo(250 / 3000);

    pending[0]?.resolve(summary("a"));
    await flush();
    expect(queue.items[0]?.status).toBe("uploaded");
    expect(pending.map((p) => p.file.name)).toEqual(["a.jpg", "b.jpg", "c.jpg"]);
  });

  it("tells duplicates and refusals apart, with the reason", async () => {
    const { uploader, pending } = manualUploader();
    const uploaded = vi.fn();
    const queue = new UploadQueue(uploader, { onUploaded: uploaded });
    queue.add(files("new.jpg", "again.jpg", "notes.txt"));
    pending[0]?.resolve(summary("n"));
    pending[1]?.resolve(summary("d", { duplicate: true }));
    pending[2]?.reject(new ApiError(415, "notes.txt is not a supported image."));
    await queue.whenIdle();
    expect(queue.items.map((i) => [i.name, i.status, i.message])).toEqual([
      ["new.jpg", "uploaded", ""],
      ["again.jpg", "duplicate", "Already in your gallery: not stored twice."],
      ["notes.txt", "rejected", "notes.txt is not a supported image."],
    ]);
    // Only new images are announced: a duplicate is already in the timeline.
    expect(uploaded).toHaveBeenCalledOnce();
    expect(uploaded.mock.calls[0]?.[0].id).toBe("n");
    // A refused file would be refused again; nothing to retry.
    expect(queue.items[2]?.retryable).toBe(false);
  });

  it("offers a retry after network trouble and sends the same file again", async () => {
    const { uploader, pending } = manualUploader();
    const queue = new UploadQueue(uploader);
    const [item] = queue.add(files("a.jpg"));
    pending[0]?.reject(new ApiError(0, "Pixtract cannot be reached."));
    await flush();
    expect(item?.status).toBe("rejected");
    expect(item?.retryable).toBe(true);
    queue.retry(item!.key);
    expect(item?.status).toBe("uploading");
    expect(pending[1]?.file.name).toBe("a.jpg");
    pending[1]?.resolve(summary("a"));
    await queue.whenIdle();
    expect(item?.status).toBe("uploaded");
  });

  it("cancels queued and running uploads", async () => {
    const { uploader, pending } = manualUploader();
    const queue = new UploadQueue(uploader, { concurrency: 1 });
    const [running, waiting] = queue.add(files("a.jpg", "b.jpg"));
    queue.cancel(waiting!.key);
    expect(waiting?.status).toBe("cancelled");
    queue.cancel(running!.key);
    expect(pending[0]?.signal.aborted).toBe(true);
    await queue.whenIdle();
    expect(running?.status).toBe("cancelled");
    expect(pending).toHaveLength(1);
  });

  it("clears finished items and keeps running ones", async () => {
    const { uploader, pending } = manualUploader();
    const queue = new UploadQueue(uploader, { concurrency: 1 });
    queue.add(files("a.jpg", "b.jpg"));
    pending[0]?.resolve(summary("a"));
    await flush();
    queue.clearFinished();
    expect(queue.items.map((i) => i.name)).toEqual(["b.jpg"]);
    expect(queue.pending).toBe(1);
  });
});
