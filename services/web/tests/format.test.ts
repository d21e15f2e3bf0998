import { describe, expect, it } from "vitest";

import { documentTypeName, fieldName, formatBytes, formatCoordinates, formatPercent } from "../src/lib/format";
import { altText } from "../src/lib/imageStore";
import { openStreetMapUrl, tileFor } from "../src/lib/map";

describe("formatting", () => {
  it("reads sizes, shares and coordinates", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(16586)).toBe("16 KB");
    expect(formatBytes(3 * 1024 * 1024)).toBe("3.0 MB");
    expect(formatPercent(0.9081)).toBe("91%");
    expect(formatCoordinates(48.8582222, 2.2945)).toBe("48.85822° N, 2.29450° E");
    expect(formatCoordinates(-33.86, -151.2)).toBe("33.86000° S, 151.20000° W");
  });

  it("names receipt fields and document types", () => {
    expect(fieldName("vendor")).toBe("Vendor");
    expect(fieldName("invoice_number")).toBe("Invoice number");
    expect(documentTypeName("receipt")).toBe("Receipt");
    expect(documentTypeName("none")).toBe("No text");
  });
});

describe("alt text", () => {
  it("comes from labels, else the start of the text, else the file name", () => {
    expect(altText("a.jpg", [{ name: "dog" }, { name: "grass" }, { name: "ball" }, { name: "sky" }])).toBe(
      "dog, grass, ball",
    );
    expect(altText("a.jpg", ["beach"])).toBe("beach");
    expect(altText("notes.png", [], "Lighthouse  keeper\nnotes")).toBe("Text: Lighthouse keeper notes");
    expect(altText("a.jpg", [], "")).toBe("a.jpg");
  });
});

describe("map", () => {
  it("links to OpenStreetMap and finds the tile holding a point", () => {
    expect(openStreetMapUrl(48.8582222, 2.2945)).toBe(
      "https://www.openstreetmap.org/?mlat=48.85822&mlon=2.29450#map=15/48.85822/2.29450",
    );
    const tile = tileFor(48.8582222, 2.2945, 13);
    expect(tile.url).toBe("https://tile.openstreetmap.org/13/4148/2818.png");
    expect(tile.x).toBeGreaterThanOrEqual(0);
    expect(tile.x).toBeLessThan(256);
    expect(tile.y).toBeGreaterThanOrEqual(0);
    expect(tile.y).toBeLessThan(256);
  });
});
