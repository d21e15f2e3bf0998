import { reactive } from "vue";

import type { Image } from "../api/types";

export interface ImageSource {
  getImage(id: string, signal?: AbortSignal): Promise<Image>;
}

export interface ImageStoreOptions {
  /** How often images still processing are asked about again. */
  pollIntervalMs?: number;
  /** How many of them one round asks about, so a big upload does not flood the API. */
  pollBatch?: number;
  /** A followed image finished processing (ready or failed). */
  onSettled?: (image: Image) => void;
}

/**
 * Image details the screens share: loaded once, and asked about again every few seconds
 * while an image is still processing, until it is ready or failed.
 */
export class ImageStore {
  readonly details: Map<string, Image> = reactive(new Map<string, Image>()) as Map<string, Image>;
  private readonly loading = new Map<string, Promise<Image>>();
  private readonly watched: string[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly pollIntervalMs: number;
  private readonly pollBatch: number;
  private readonly onSettled: (image: Image) => void;

  constructor(
    private readonly source: ImageSource,
    options: ImageStoreOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.pollBatch = options.pollBatch ?? 8;
    this.onSettled = options.onSettled ?? (() => undefined);
  }

  get(id: string): Image | undefined {
    return this.details.get(id);
  }

  /** The image's details, from memory or the API (one request however many ask). */
  load(id: string, fresh = false): Promise<Image> {
    const known = this.details.get(id);
    if (known && !fresh) return Promise.resolve(known);
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.source
        .getImage(id)
        .then((image) => {
          this.put(image);
          return image;
        })
        .finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** Loads the details if missing; failures are left for the screen that needs them. */
  ensure(id: string): void {
    this.load(id).catch(() => undefined);
  }

  put(image: Image): void {
    this.details.set(image.id, image);
    if (image.state === "processing") {
      this.watch(image.id);
    } else if (this.watched.includes(image.id)) {
      this.unwatch(image.id);
      this.onSettled(image);
    }
  }

  forget(id: string): void {
    this.details.delete(id);
    this.unwatch(id);
  }

  clear(): void {
    this.details.clear();
    this.watched.length = 0;
    this.stopTimer();
  }

  /** Asks again until the image is no longer processing. */
  watch(id: string): void {
    if (!this.watched.includes(id)) this.watched.push(id);
    this.startTimer();
  }

  get watching(): readonly string[] {
    return this.watched;
  }

  private unwatch(id: string): void {
    const at = this.watched.indexOf(id);
    if (at >= 0) this.watched.splice(at, 1);
    if (this.watched.length === 0) this.stopTimer();
  }

  private startTimer(): void {
    if (this.timer === null) this.timer = setTimeout(() => void this.poll(), this.pollIntervalMs);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One round: the longest-waiting few, then they go to the back of the line. */
  async poll(): Promise<void> {
    this.timer = null;
    const round = this.watched.splice(0, this.pollBatch);
    this.watched.push(...round);
    await Promise.all(
      round.map((id) =>
        this.load(id, true).catch(() => {
          // Gone (deleted elsewhere) or not answering: stop asking about a missing image.
          this.unwatch(id);
        }),
      ),
    );
    if (this.watched.length > 0) this.startTimer();
  }
}

/** Alt text from what the image shows: its labels, else the start of its text, else its file name. */
export function altText(
  filename: string,
  labels: readonly { name: string }[] | readonly string[] | undefined,
  text?: string | null,
): string {
  const names = (labels ?? []).slice(0, 3).map((label) => (typeof label === "string" ? label : label.name));
  if (names.length > 0) return names.join(", ");
  const words = (text ?? "").replace(/\s+/g, " ").trim();
  if (words) return `Text: ${words.length > 80 ? `${words.slice(0, 79)}…` : words}`;
  return filename;
}
