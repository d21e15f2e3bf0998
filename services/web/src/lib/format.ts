// How numbers and dates read on screen.

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDate(iso: string | null | undefined, withTime = false): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(undefined, {
    dateStyle: "medium",
    ...(withTime ? { timeStyle: "short" } : {}),
  }).format(date);
}

export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** 48.8582° N, 2.2945° E */
export function formatCoordinates(lat: number, lon: number): string {
  const ns = lat >= 0 ? "N" : "S";
  const ew = lon >= 0 ? "E" : "W";
  return `${Math.abs(lat).toFixed(5)}° ${ns}, ${Math.abs(lon).toFixed(5)}° ${ew}`;
}

const FIELD_NAMES: Record<string, string> = {
  vendor: "Vendor",
  date: "Date",
  total: "Total",
  currency: "Currency",
  subtotal: "Subtotal",
  tax: "Tax",
};

/** "vendor" → "Vendor", "invoice_number" → "Invoice number". */
export function fieldName(key: string): string {
  const known = FIELD_NAMES[key];
  if (known) return known;
  const words = key.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const DOCUMENT_TYPES: Record<string, string> = {
  receipt: "Receipt",
  note: "Note",
  form: "Form",
  other: "Text",
  none: "No text",
};

export function documentTypeName(type: string): string {
  return DOCUMENT_TYPES[type] ?? fieldName(type);
}
