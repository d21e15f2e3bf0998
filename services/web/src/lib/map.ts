// Where a photo was taken, offline first: coordinates and a link always work; a map tile
// from OpenStreetMap loads only when the person asks for it.

export function openStreetMapUrl(lat: number, lon: number, zoom = 15): string {
  const la = lat.toFixed(5);
  const lo = lon.toFixed(5);
  return `https://www.openstreetmap.org/?mlat=${la}&mlon=${lo}#map=${zoom}/${la}/${lo}`;
}

export interface TilePosition {
  url: string;
  /** Where the point lies inside the 256-pixel tile. */
  x: number;
  y: number;
}

/** The standard Web Mercator ("slippy map") tile holding the point. */
export function tileFor(lat: number, lon: number, zoom = 13): TilePosition {
  const n = 2 ** zoom;
  const clampedLat = Math.max(-85.0511, Math.min(85.0511, lat));
  const rad = (clampedLat * Math.PI) / 180;
  const fx = ((lon + 180) / 360) * n;
  const fy = ((1 - Math.log(Math.tan(rad) + 1 / Math.cos(rad)) / Math.PI) / 2) * n;
  const tx = Math.min(n - 1, Math.max(0, Math.floor(fx)));
  const ty = Math.min(n - 1, Math.max(0, Math.floor(fy)));
  return {
    url: `https://tile.openstreetmap.org/${zoom}/${tx}/${ty}.png`,
    x: Math.round((fx - tx) * 256),
    y: Math.round((fy - ty) * 256),
  };
}
