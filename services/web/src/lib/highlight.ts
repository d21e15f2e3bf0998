// Search highlights arrive as HTML: the OCR text escaped, with <em> around the matches.
// They are never put into the page as HTML. They become text segments, marked or not,
// which Vue renders as text: any other tag stays visible as the characters it is.

export interface Segment {
  text: string;
  marked: boolean;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
};

/** Decodes the entities an HTML encoder writes (named basics and numeric); leaves others as they are. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === "#") {
      const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      if (Number.isFinite(code) && code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff)) {
        return String.fromCodePoint(code);
      }
      return whole;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

/** Splits a snippet at its <em> and </em> tags; only these mark text, everything else is text. */
export function highlightSegments(snippet: string): Segment[] {
  const segments: Segment[] = [];
  let marked = false;
  for (const part of snippet.split(/(<\/?em>)/i)) {
    const tag = part.toLowerCase();
    if (tag === "<em>") {
      marked = true;
      continue;
    }
    if (tag === "</em>") {
      marked = false;
      continue;
    }
    if (!part) continue;
    const text = decodeEntities(part);
    const last = segments[segments.length - 1];
    if (last && last.marked === marked) last.text += text;
    else segments.push({ text, marked });
  }
  return segments;
}
