import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";

import HighlightedText from "../src/components/HighlightedText.vue";
import { decodeEntities, highlightSegments } from "../src/lib/highlight";

describe("highlightSegments", () => {
  it("marks the text between <em> tags and nothing else", () => {
    expect(highlightSegments("the <em>lighthouse</em> keeper")).toEqual([
      { text: "the ", marked: false },
      { text: "lighthouse", marked: true },
      { text: " keeper", marked: false },
    ]);
  });

  it("decodes the entities of the server's HTML encoder into plain text", () => {
    expect(highlightSegments("fish &amp; chips &lt;b&gt; <em>&quot;total&quot;</em> &#39;x&#x27;")).toEqual([
      { text: "fish & chips <b> ", marked: false },
      { text: '"total"', marked: true },
      { text: " 'x'", marked: false },
    ]);
  });

  it("keeps any other tag as the characters it is", () => {
    const segments = highlightSegments('<script>alert(1)</script><em>hit</em><img src=x onerror="boom">');
    expect(segments).toEqual([
      { text: "<script>alert(1)</script>", marked: false },
      { text: "hit", marked: true },
      { text: '<img src=x onerror="boom">', marked: false },
    ]);
  });

  it("copes with unbalanced and upper-case tags", () => {
    expect(highlightSegments("a <EM>b</EM> c </em> d <em>e")).toEqual([
      { text: "a ", marked: false },
      { text: "b", marked: true },
      { text: " c  d ", marked: false },
      { text: "e", marked: true },
    ]);
  });

  it("leaves unknown or invalid entities alone", () => {
    expect(decodeEntities("&bogus; &#0; &#xD800; &#65;")).toBe("&bogus; &#0; &#xD800; A");
  });
});

describe("HighlightedText", () => {
  it("renders <mark> for matches and escapes everything else", () => {
    const wrapper = mount(HighlightedText, {
      props: { snippet: 'Invoice <em>total</em> <img src=x onerror="alert(1)"> &lt;b&gt;' },
    });
    expect(wrapper.findAll("mark").map((m) => m.text())).toEqual(["total"]);
    expect(wrapper.find("img").exists()).toBe(false);
    expect(wrapper.find("b").exists()).toBe(false);
    expect(wrapper.text()).toContain('<img src=x onerror="alert(1)"> <b>');
  });
});
