// Mounts a component inside the app's context: a Gallery on a fake network and a router
// with in-memory history.
import { flushPromises, mount, type VueWrapper } from "@vue/test-utils";
import type { Component } from "vue";
import { createMemoryHistory, type Router } from "vue-router";

import { MemoryTokenStore } from "../src/api/tokens";
import { Gallery, GalleryKey } from "../src/gallery";
import { createGalleryRouter } from "../src/router";
import { FakeFetch, FakeXhrFactory } from "./fakes";

export interface Mounted {
  wrapper: VueWrapper;
  gallery: Gallery;
  router: Router;
  fake: FakeFetch;
}

export async function mountApp(
  component: Component,
  options: { fake?: FakeFetch; path?: string; props?: Record<string, unknown>; xhr?: FakeXhrFactory } = {},
): Promise<Mounted> {
  const fake = options.fake ?? new FakeFetch();
  const gallery = new Gallery({
    store: new MemoryTokenStore({ access_token: "access-0", refresh_token: "refresh-0" }),
    fetch: fake.fetch,
    createXhr: options.xhr?.create,
  });
  const router = createGalleryRouter(gallery, createMemoryHistory());
  await router.push(options.path ?? "/");
  await router.isReady();
  const wrapper = mount(component, {
    props: options.props,
    attachTo: document.body,
    global: { plugins: [router], provide: { [GalleryKey as symbol]: gallery } },
  });
  await flushPromises();
  return { wrapper, gallery, router, fake };
}
