import { createRouter, type RouteLocationNormalized, type Router, type RouterHistory } from "vue-router";

import type { Gallery } from "./gallery";

declare module "vue-router" {
  interface RouteMeta {
    /** Shown to signed-out people (sign-in, sign-up); signed-in people go to the gallery. */
    public?: boolean;
    title?: string;
  }
}

/** Where to go after signing in: only paths inside the app, never another site. */
export function safeNext(value: unknown): string {
  return typeof value === "string" && value.startsWith("/") && !value.startsWith("//") ? value : "/";
}

export function createGalleryRouter(gallery: Gallery, history: RouterHistory): Router {
  const router = createRouter({
    history,
    routes: [
      { path: "/", name: "timeline", component: () => import("./views/TimelineView.vue"), meta: { title: "Gallery" } },
      { path: "/search", name: "search", component: () => import("./views/SearchView.vue"), meta: { title: "Search" } },
      {
        path: "/images/:id",
        name: "image",
        component: () => import("./views/ImageView.vue"),
        props: true,
        meta: { title: "Image" },
      },
      { path: "/keys", name: "keys", component: () => import("./views/ApiKeysView.vue"), meta: { title: "API keys" } },
      {
        path: "/signin",
        name: "signin",
        component: () => import("./views/SignInView.vue"),
        meta: { public: true, title: "Sign in" },
      },
      {
        path: "/signup",
        name: "signup",
        component: () => import("./views/SignUpView.vue"),
        meta: { public: true, title: "Create an account" },
      },
      {
        path: "/:rest(.*)*",
        name: "not-found",
        component: () => import("./views/NotFoundView.vue"),
        meta: { title: "Not found" },
      },
    ],
    scrollBehavior(to, from, saved) {
      if (saved) return saved;
      if (to.path === from.path) return false;
      return { top: 0 };
    },
  });

  router.beforeEach((to: RouteLocationNormalized) => {
    const signedIn = gallery.session.signedIn;
    if (to.name === "not-found") return true;
    if (to.meta.public) return signedIn ? safeNext(to.query.next) : true;
    if (!signedIn) return { name: "signin", query: to.fullPath === "/" ? {} : { next: to.fullPath } };
    return true;
  });

  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · Pixtract` : "Pixtract";
  });

  // Signed out by another tab or by an expired session: leave the private screens.
  gallery.sessionEnded.on(() => {
    const here = router.currentRoute.value;
    if (!here.meta.public) void router.replace({ name: "signin", query: { next: here.fullPath } });
  });

  return router;
}
