// The timeline's grouping: images by the month they were uploaded, newest first as listed.

export interface MonthGroup<T> {
  /** "2026-11": stable across locales, for keys and ids. */
  key: string;
  /** "November 2026" in the reader's language. */
  label: string;
  items: T[];
}

export function monthKey(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "unknown";
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}`;
}

export function monthLabel(key: string, locale?: string): string {
  if (key === "unknown") return "Unknown date";
  const [year, month] = key.split("-").map(Number);
  const date = new Date(year ?? 1970, (month ?? 1) - 1, 1);
  return new Intl.DateTimeFormat(locale, { month: "long", year: "numeric" }).format(date);
}

/**
 * Consecutive runs of one month form a group. The listing is sorted newest first, so each
 * month appears once; should it not be, a month seen again gets a group of its own rather
 * than reordering what the server sent.
 */
export function groupByMonth<T>(items: readonly T[], dateOf: (item: T) => string, locale?: string): MonthGroup<T>[] {
  const groups: MonthGroup<T>[] = [];
  for (const item of items) {
    const key = monthKey(dateOf(item));
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.items.push(item);
    else groups.push({ key, label: monthLabel(key, locale), items: [item] });
  }
  return groups;
}
