import { inject, reactive, type InjectionKey } from "vue";

import { ApiClient, type ApiClientOptions } from "./api/client";
import type { Category, ImageSummary, User } from "./api/types";
import { ImageStore } from "./lib/imageStore";
import { UploadQueue } from "./lib/uploadQueue";

export interface Session {
  signedIn: boolean;
  user: User | null;
  /** A sentence for the sign-in screen, such as why the session ended. */
  notice: string;
}

type Listener<T> = (value: T) => void;

class Signal<T> {
  private readonly listeners = new Set<Listener<T>>();

  on(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(value: T): void {
    for (const listener of this.listeners) listener(value);
  }
}

/** Everything the screens share: the API, the session, uploads, image details. */
export class Gallery {
  readonly api: ApiClient;
  readonly session: Session;
  readonly images: ImageStore;
  readonly uploads: UploadQueue;
  readonly categories = reactive<{ items: Category[]; loaded: boolean }>({ items: [], loaded: false });
  /** A short message shown for a few seconds, such as "notes.png was deleted." */
  readonly toast = reactive<{ text: string; serial: number }>({ text: "", serial: 0 });
  /** A new image was stored (from any upload). */
  readonly imageAdded = new Signal<ImageSummary>();
  /** An image was deleted. */
  readonly imageRemoved = new Signal<string>();
  /** The session ended without the person asking (the refresh token was refused). */
  readonly sessionEnded = new Signal<void>();

  constructor(options: Omit<ApiClientOptions, "onSessionEnded">) {
    this.api = new ApiClient({ ...options, onSessionEnded: () => this.endSession() });
    this.session = reactive<Session>({ signedIn: this.api.signedIn, user: null, notice: "" });
    this.images = new ImageStore(this.api, {
      // Tagging done: categories and their counts may have changed.
      onSettled: () => {
        this.categories.loaded = false;
      },
    });
    this.uploads = new UploadQueue((file, progress, signal) => this.api.upload(file, progress, signal), {
      onUploaded: (image) => {
        this.images.watch(image.id);
        this.imageAdded.emit(image);
      },
    });
    options.store.subscribe((tokens) => {
      const signedIn = tokens !== null;
      if (signedIn === this.session.signedIn) return;
      this.session.signedIn = signedIn;
      if (!signedIn) this.forget();
    });
  }

  async signIn(email: string, password: string): Promise<void> {
    await this.api.signIn(email, password);
    this.session.notice = "";
    await this.loadUser();
  }

  async signOut(): Promise<void> {
    await this.api.signOut();
    this.forget();
  }

  async loadUser(): Promise<void> {
    try {
      this.session.user = await this.api.me();
    } catch {
      // The header just shows no name; a lost session is handled by the client.
    }
  }

  async loadCategories(): Promise<void> {
    const { items } = await this.api.listCategories();
    this.categories.items = items;
    this.categories.loaded = true;
  }

  async renameCategory(id: string, name: string): Promise<Category> {
    const renamed = await this.api.renameCategory(id, name);
    const at = this.categories.items.findIndex((category) => category.id === id);
    if (at >= 0) this.categories.items[at] = renamed;
    return renamed;
  }

  async deleteImage(id: string): Promise<void> {
    await this.api.deleteImage(id);
    this.images.forget(id);
    this.imageRemoved.emit(id);
    // Counts and covers change; the sidebar reloads them when it next shows.
    this.categories.loaded = false;
  }

  notify(text: string): void {
    this.toast.text = text;
    this.toast.serial += 1;
  }

  private endSession(): void {
    this.session.notice = "Your session has ended. Sign in again to go on.";
    this.forget();
    this.sessionEnded.emit();
  }

  private forget(): void {
    this.session.signedIn = false;
    this.session.user = null;
    this.images.clear();
    this.categories.items = [];
    this.categories.loaded = false;
  }
}

export const GalleryKey: InjectionKey<Gallery> = Symbol("gallery");

export function useGallery(): Gallery {
  const gallery = inject(GalleryKey);
  if (!gallery) throw new Error("useGallery() outside the app: provide GalleryKey");
  return gallery;
}
