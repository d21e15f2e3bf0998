import { flushPromises } from "@vue/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Category, Image } from "../src/api/types";
import CategorySidebar from "../src/components/CategorySidebar.vue";
import SearchBox from "../src/components/SearchBox.vue";
import UploadPanel from "../src/components/UploadPanel.vue";
import ImageView from "../src/views/ImageView.vue";
import { FakeFetch, FakeXhrFactory, json, problem, summary } from "./fakes";
import { mountApp } from "./mountApp";

afterEach(() => {
  document.body.innerHTML = "";
  vi.useRealTimers();
});

const category = (id: string, name: string, count: number, suggested = name): Category => ({
  id,
  name,
  suggested_name: suggested,
  count,
  cover_image_id: "img",
});

describe("CategorySidebar", () => {
  it("says what to do when there are no categories", async () => {
    const fake = new FakeFetch().on("GET", /categories/, () => json(200, { items: [] }));
    const { wrapper } = await mountApp(CategorySidebar, { fake });
    expect(wrapper.get('[data-testid="categories-empty"]').text()).toContain("No categories yet");
  });

  it("lists categories with counts and renames one", async () => {
    const fake = new FakeFetch()
      .on("GET", /categories/, () =>
        json(200, { items: [category("beach", "beach", 12), category("receipt", "receipt", 3)] }),
      )
      .on("PATCH", /categories\/beach/, (call) =>
        json(200, category("beach", (call.body as { name: string }).name, 12, "beach")),
      );
    const { wrapper } = await mountApp(CategorySidebar, { fake });
    const links = wrapper.findAll(".category-link");
    const texts = links.map((l) => l.findAll("span").map((span) => span.text()));
    expect(texts).toEqual([["All images"], ["beach", "12"], ["receipt", "3"]]);
    expect(links[1]?.attributes("href")).toBe("/?category=beach");

    await wrapper.get('button[aria-label="Rename beach"]').trigger("click");
    const input = wrapper.get<HTMLInputElement>("#rename-input-beach");
    expect(document.activeElement).toBe(input.element);
    await input.setValue("Holidays by the sea");
    await wrapper.get(".rename-form").trigger("submit");
    await flushPromises();
    expect(fake.callsTo(/categories\/beach/)[0]?.body).toEqual({ name: "Holidays by the sea" });
    expect(wrapper.find(".rename-form").exists()).toBe(false);
    expect(wrapper.findAll(".category-link")[1]?.text()).toContain("Holidays by the sea");
    // The filter still uses the name the images carry.
    expect(wrapper.findAll(".category-link")[1]?.attributes("href")).toBe("/?category=beach");
  });

  it("shows the server's reason when a rename is refused, and Escape cancels", async () => {
    const fake = new FakeFetch()
      .on("GET", /categories/, () => json(200, { items: [category("beach", "beach", 1)] }))
      .on("PATCH", /categories/, () => problem(422, "The name must not contain control characters."));
    const { wrapper } = await mountApp(CategorySidebar, { fake });
    await wrapper.get('button[aria-label="Rename beach"]').trigger("click");
    await wrapper.get("#rename-input-beach").setValue("bad\u0007name");
    await wrapper.get(".rename-form").trigger("submit");
    await flushPromises();
    expect(wrapper.get('[role="alert"]').text()).toBe("The name must not contain control characters.");
    await wrapper.get("#rename-input-beach").trigger("keydown", { key: "Escape" });
    expect(wrapper.find(".rename-form").exists()).toBe(false);
  });
});

describe("SearchBox", () => {
  it("suggests as you type, once the typing pauses, and picks with the keyboard", async () => {
    vi.useFakeTimers();
    const fake = new FakeFetch().on("GET", /search\/suggest/, (call) =>
      json(200, { suggestions: call.url.includes("q=gol") ? ["golden retriever", "golf"] : [] }),
    );
    const { wrapper, router } = await mountApp(SearchBox, { fake });
    const input = wrapper.get("input");
    await input.setValue("g");
    await input.trigger("input");
    await input.setValue("go");
    await input.trigger("input");
    await input.setValue("gol");
    await input.trigger("input");
    expect(fake.callsTo(/suggest/)).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(250);
    await flushPromises();
    // Only the last text, after the pause, was asked about.
    expect(fake.callsTo(/suggest/).map((c) => c.url)).toEqual(["/api/v1/search/suggest?q=gol"]);
    const options = wrapper.findAll('[role="option"]');
    expect(options.map((o) => o.text())).toEqual(["golden retriever", "golf"]);
    expect(input.attributes("aria-expanded")).toBe("true");

    await input.trigger("keydown", { key: "ArrowDown" });
    await input.trigger("keydown", { key: "ArrowDown" });
    expect(input.attributes("aria-activedescendant")).toBe("search-suggestions-1");
    vi.useRealTimers();
    await input.trigger("keydown", { key: "Enter" });
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe("/search?q=golf"));
  });

  it("closes the suggestions on Escape", async () => {
    vi.useFakeTimers();
    const fake = new FakeFetch().on("GET", /search\/suggest/, () => json(200, { suggestions: ["beach"] }));
    const { wrapper } = await mountApp(SearchBox, { fake });
    const input = wrapper.get("input");
    await input.setValue("be");
    await input.trigger("input");
    await vi.advanceTimersByTimeAsync(250);
    await flushPromises();
    expect(input.attributes("aria-expanded")).toBe("true");
    await input.trigger("keydown", { key: "Escape" });
    expect(input.attributes("aria-expanded")).toBe("false");
  });
});

describe("UploadPanel", () => {
  it("shows progress, duplicates and refusals with their reason", async () => {
    const xhr = new FakeXhrFactory([
      { status: 201, body: { images: [summary("a")] } },
      { status: 201, body: { images: [summary("b", { duplicate: true })] } },
      { status: 415, body: { status: 415, detail: "notes.txt is not a supported image." } },
    ]);
    const fake = new FakeFetch().on("GET", /images\/a$/, () => json(200, { ...summary("a"), state: "processing" }));
    const { wrapper, gallery } = await mountApp(UploadPanel, { fake, xhr });
    gallery.uploads.add([
      new File(["x"], "a.jpg", { type: "image/jpeg" }),
      new File(["y"], "b.jpg", { type: "image/jpeg" }),
      new File(["z"], "notes.txt", { type: "text/plain" }),
    ]);
    await gallery.uploads.whenIdle();
    await flushPromises();
    const items = wrapper.findAll(".upload-item");
    expect(items.map((i) => i.attributes("data-status"))).toEqual(["uploaded", "duplicate", "rejected"]);
    expect(items[1]?.text()).toContain("Already in your gallery");
    expect(items[2]?.text()).toContain("notes.txt is not a supported image.");
    expect(items[2]?.text()).not.toContain("Retry");
    expect(wrapper.get("h2").text()).toBe("1 uploaded, 1 already there, 1 refused");
    gallery.images.clear();
  });
});

describe("ImageView", () => {
  const rich: Image = {
    ...summary("r1", { filename: "receipt.jpg", state: "ready" }),
    width: 800,
    height: 600,
    taken_at: "2025-07-14T10:30:00Z",
    stages: { tagging: "done", ocr: "done", search: "done" },
    labels: [
      { name: "receipt", confidence: 0.93, parents: ["document"] },
      { name: "paper", confidence: 0.41, parents: [] },
    ],
    categories: ["documents"],
    faces: 2,
    colors: [{ name: "white", hex: "#ffffff", fraction: 0.8 }],
    location: { lat: 48.8582222, lon: 2.2945, place: "Paris", country: "France" },
    camera: { make: "Canon", model: "Canon EOS 80D" },
    text: {
      content: "CAFE DU PORT\nTOTAL 12.50 EUR",
      document_type: "receipt",
      fields: { vendor: "Café du Port", total: "12.50", currency: "EUR", date: "2025-07-14" },
      lines: [{ text: "CAFE DU PORT", confidence: 0.98, box: [0, 0, 1, 1] }],
    },
  };

  it("shows labels with confidence, place, camera and receipt fields; alt text from labels", async () => {
    URL.createObjectURL = vi.fn(() => "blob:fake");
    URL.revokeObjectURL = vi.fn();
    const fake = new FakeFetch()
      .on("GET", /images\/r1$/, () => json(200, rich))
      .on(
        "GET",
        /images\/r1\/content/,
        () => new Response("jpeg", { status: 200, headers: { "content-type": "image/jpeg" } }),
      );
    const { wrapper } = await mountApp(ImageView, { fake, path: "/images/r1", props: { id: "r1" } });
    expect(wrapper.get("h1").text()).toBe("receipt.jpg");
    expect(wrapper.findAll(".label-row").map((r) => [r.get("a").text(), r.get("span").text()])).toEqual([
      ["receipt", "93%"],
      ["paper", "41%"],
    ]);
    expect(wrapper.get(".label-row meter").attributes("value")).toBe("0.93");
    expect(wrapper.get(".location").text()).toContain("Paris, France");
    expect(wrapper.get(".location").text()).toContain("48.85822° N, 2.29450° E");
    expect(wrapper.get(".facts").text()).toContain("Canon EOS 80D");
    expect(wrapper.get(".facts").text()).toContain("2 faces");
    const receipt = wrapper.get('[data-testid="receipt-fields"]');
    const pairs = receipt.findAll("dt").map((dt, i) => [dt.text(), receipt.findAll("dd")[i]?.text()]);
    expect(pairs).toEqual([
      ["Vendor", "Café du Port"],
      ["Total", "12.50 EUR"],
      ["Date", "2025-07-14"],
    ]);
    expect(wrapper.get(".image-page__figure img").attributes("alt")).toBe("receipt, paper");
    // No map tile loads until asked: the page works offline.
    expect(wrapper.find(".location__map").exists()).toBe(false);
  });

  it("says when the image does not exist", async () => {
    const fake = new FakeFetch().on("GET", /images\/nope$/, () => problem(404, "No such image."));
    const { wrapper } = await mountApp(ImageView, { fake, path: "/images/nope", props: { id: "nope" } });
    expect(wrapper.get("h1").text()).toBe("Image not found");
  });
});
