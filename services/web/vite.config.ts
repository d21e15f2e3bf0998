/// <reference types="vitest/config" />
import vue from "@vitejs/plugin-vue";
import { defineConfig, type Plugin } from "vite";

// The built app talks only to its own origin (the ingress). Map tiles load from
// OpenStreetMap only after the person asks for the map.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data: https://tile.openstreetmap.org",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join("; ");

// Only in the build: the dev server injects inline scripts that a strict policy would block.
function contentSecurityPolicy(): Plugin {
  return {
    name: "pixtract-csp",
    apply: "build",
    transformIndexHtml: () => [
      {
        tag: "meta",
        attrs: { "http-equiv": "Content-Security-Policy", content: CONTENT_SECURITY_POLICY },
        injectTo: "head-prepend",
      },
    ],
  };
}

// `npm run dev` proxies the API to a running stack (make up): PIXTRACT_API=http://127.0.0.1:8080.
const api = process.env.PIXTRACT_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [vue(), contentSecurityPolicy()],
  build: {
    target: "es2022",
    sourcemap: true,
    // Plugin timing warnings measure this 2-core machine, not the app.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: {
    proxy: {
      "/api": { target: api, changeOrigin: false },
      "/.well-known": { target: api, changeOrigin: false },
    },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts"],
    restoreMocks: true,
  },
});
