import { describe, expect, it } from "vitest";

import { groupByMonth, monthKey, monthLabel } from "../src/lib/months";

// Local dates, so the test means the same in every time zone.
const at = (year: number, month: number, day: number): string => new Date(year, month - 1, day, 12).toISOString();

describe("month grouping", () => {
  it("groups consecutive images of one month, newest first as listed", () => {
    const items = [
      { id: "a", uploaded_at: at(2026, 11, 20) },
      { id: "b", uploaded_at: at(2026, 11, 1) },
      { id: "c", uploaded_at: at(2026, 10, 31) },
      { id: "d", uploaded_at: at(2025, 10, 2) },
    ];
    const groups = groupByMonth(items, (item) => item.uploaded_at, "en-GB");
    expect(groups.map((g) => [g.key, g.label, g.items.map((i) => i.id)])).toEqual([
      ["2026-11", "November 2026", ["a", "b"]],
      ["2026-10", "October 2026", ["c"]],
      ["2025-10", "October 2025", ["d"]],
    ]);
  });

  it("does not reorder what the server sent", () => {
    const items = [at(2026, 3, 1), at(2026, 2, 1), at(2026, 3, 2)].map((d) => ({ d }));
    expect(groupByMonth(items, (i) => i.d).map((g) => g.key)).toEqual(["2026-03", "2026-02", "2026-03"]);
  });

  it("puts broken dates in a group of their own", () => {
    expect(monthKey("not a date")).toBe("unknown");
    expect(monthLabel("unknown")).toBe("Unknown date");
    expect(groupByMonth([], (x: string) => x)).toEqual([]);
  });
});
