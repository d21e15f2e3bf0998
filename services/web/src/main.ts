import { createApp } from "vue";
import { createWebHistory } from "vue-router";

import { BrowserTokenStore } from "./api/tokens";
import App from "./App.vue";
import { Gallery, GalleryKey } from "./gallery";
import { createGalleryRouter } from "./router";
import "./styles.css";

const gallery = new Gallery({ store: new BrowserTokenStore() });
const router = createGalleryRouter(gallery, createWebHistory());

if (gallery.session.signedIn) void gallery.loadUser();

createApp(App).provide(GalleryKey, gallery).use(router).mount("#app");
