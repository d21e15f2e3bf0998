import { reactive } from "vue";

import { describeError, isAbort, isTransient } from "../api/errors";
import type { ProgressListener } from "../api/client";
import type { ImageSummary } from "../api/types";

export type UploadStatus = "queued" | "uploading" | "uploaded" | "duplicate" | "rejected" | "cancelled";

export interface UploadItem {
  readonly key: number;
  readonly name: string;
  readonly size: number;
  status: UploadStatus;
  loaded: number;
  total: number;
  /** Why it was refused or skipped, in words. */
  message: string;
  /** Trying again may help (network trouble, a busy server), unlike a refused file. */
  retryable: boolean;
  image: ImageSummary | null;
}

export type Uploader = (file: File, onProgress: ProgressListener, signal: AbortSignal) => Promise<ImageSummary>;

export interface UploadQueueOptions {
  /** Files in flight at once; the rest wait their turn. */
  concurrency?: number;
  /** A new image (not a duplicate) was stored. */
  onUploaded?: (image: ImageSummary) => void;
}

const FINISHED: ReadonlySet<UploadStatus> = new Set(["uploaded", "duplicate", "rejected", "cancelled"]);

export function isFinished(item: UploadItem): boolean {
  return FINISHED.has(item.status);
}

/** Uploads files one request each, a few at a time, keeping per-file progress and outcome. */
export class UploadQueue {
  readonly items: UploadItem[] = reactive<UploadItem[]>([]);
  private readonly files = new Map<number, File>();
  private readonly controllers = new Map<number, AbortController>();
  private readonly concurrency: number;
  private readonly onUploaded: (image: ImageSummary) => void;
  private running = 0;
  private nextKey = 1;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly uploader: Uploader,
    options: UploadQueueOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 3);
    this.onUploaded = options.onUploaded ?? (() => undefined);
  }

  add(files: Iterable<File>): UploadItem[] {
    const added: UploadItem[] = [];
    for (const file of files) {
      const key = this.nextKey++;
      this.files.set(key, file);
      this.items.push({
        key,
        name: file.name || "unnamed file",
        size: file.size,
        status: "queued",
        loaded: 0,
        total: file.size,
        message: "",
        retryable: false,
        image: null,
      });
      added.push(this.items[this.items.length - 1] as UploadItem);
    }
    this.pump();
    return added;
  }

  cancel(key: number): void {
    const item = this.find(key);
    if (!item || isFinished(item)) return;
    if (item.status === "queued") {
      item.status = "cancelled";
      item.message = "Cancelled.";
      item.retryable = true;
      this.settle();
      return;
    }
    this.controllers.get(key)?.abort();
  }

  retry(key: number): void {
    const item = this.find(key);
    if (!item || !item.retryable || !this.files.has(key)) return;
    item.status = "queued";
    item.loaded = 0;
    item.message = "";
    item.retryable = false;
    this.pump();
  }

  /** Forgets the finished items; the ones still going stay. */
  clearFinished(): void {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i] as UploadItem;
      if (isFinished(item)) {
        this.files.delete(item.key);
        this.items.splice(i, 1);
      }
    }
  }

  get pending(): number {
    return this.items.filter((item) => !isFinished(item)).length;
  }

  /** Bytes sent over bytes to send, across the files not yet finished or just sent. */
  get fraction(): number {
    let loaded = 0;
    let total = 0;
    for (const item of this.items) {
      if (item.status === "cancelled" || item.status === "rejected") continue;
      loaded += isFinished(item) ? item.total : item.loaded;
      total += item.total;
    }
    return total === 0 ? 1 : loaded / total;
  }

  /** Resolves when nothing is queued or uploading. */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private find(key: number): UploadItem | undefined {
    return this.items.find((item) => item.key === key);
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const next = this.items.find((item) => item.status === "queued");
      if (!next) break;
      this.running += 1;
      void this.run(next).finally(() => {
        this.running -= 1;
        this.pump();
        this.settle();
      });
    }
    this.settle();
  }

  private settle(): void {
    if (this.pending > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async run(item: UploadItem): Promise<void> {
    const file = this.files.get(item.key);
    if (!file) return;
    const controller = new AbortController();
    this.controllers.set(item.key, controller);
    item.status = "uploading";
    try {
      const image = await this.uploader(
        file,
        (loaded, total) => {
          item.loaded = loaded;
          item.total = total || item.total;
        },
        controller.signal,
      );
      item.loaded = item.total;
      item.image = image;
      if (image.duplicate) {
        item.status = "duplicate";
        item.message = "Already in your gallery: not stored twice.";
      } else {
        item.status = "uploaded";
        this.onUploaded(image);
      }
      this.files.delete(item.key);
    } catch (error) {
      if (isAbort(error)) {
        item.status = "cancelled";
        item.message = "Cancelled.";
        item.retryable = true;
      } else {
        item.status = "rejected";
        item.message = describeError(error);
        item.retryable = isTransient(error);
      }
    } finally {
      this.controllers.delete(item.key);
    }
  }
}
