// Arrow keys move focus between the tiles of a grid ([data-grid-item]), by where they are on
// screen, so it works across month sections and whatever the number of columns.

const KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"]);

function centre(rect: DOMRect): { x: number; y: number } {
  return { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 };
}

export function nextGridItem(items: HTMLElement[], current: HTMLElement, key: string): HTMLElement | null {
  const at = items.indexOf(current);
  if (at < 0) return null;
  switch (key) {
    case "ArrowLeft":
      return items[at - 1] ?? null;
    case "ArrowRight":
      return items[at + 1] ?? null;
    case "Home":
      return items[0] ?? null;
    case "End":
      return items[items.length - 1] ?? null;
  }
  const here = centre(current.getBoundingClientRect());
  const down = key === "ArrowDown";
  let best: HTMLElement | null = null;
  let bestRow = Infinity;
  let bestDx = Infinity;
  for (const item of items) {
    if (item === current) continue;
    const c = centre(item.getBoundingClientRect());
    const dy = down ? c.y - here.y : here.y - c.y;
    if (dy <= 1) continue;
    const dx = Math.abs(c.x - here.x);
    // The nearest row first, then the nearest column in it.
    if (dy < bestRow - 1 || (Math.abs(dy - bestRow) <= 1 && dx < bestDx)) {
      best = item;
      bestRow = dy;
      bestDx = dx;
    }
  }
  return best;
}

export function onGridKeydown(event: KeyboardEvent): void {
  if (!KEYS.has(event.key) || event.altKey || event.ctrlKey || event.metaKey) return;
  const container = event.currentTarget as HTMLElement | null;
  const current = (event.target as HTMLElement | null)?.closest<HTMLElement>("[data-grid-item]");
  if (!container || !current) return;
  const items = Array.from(container.querySelectorAll<HTMLElement>("[data-grid-item]"));
  const next = nextGridItem(items, current, event.key);
  if (next) {
    event.preventDefault();
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }
}
