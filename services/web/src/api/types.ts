// The public REST API v1 as the gallery uses it (docs/API.md is the contract).

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "bearer";
  expires_in: number;
}

export interface User {
  id: string;
  email: string;
  name: string | null;
  created_at: string;
}

export interface ApiKey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export interface CreatedApiKey {
  id: string;
  name: string;
  key: string;
  created_at: string;
}

export type ImageState = "processing" | "ready" | "failed";
export type StageState = "pending" | "done" | "failed";

export interface ImageSummary {
  id: string;
  filename: string;
  content_type: string;
  size: number;
  sha256: string;
  state: ImageState;
  duplicate?: boolean;
  uploaded_at: string;
}

export interface Label {
  name: string;
  confidence: number;
  parents: string[];
}

export interface Colour {
  name: string;
  hex: string;
  fraction: number;
}

export interface Location {
  lat: number;
  lon: number;
  place: string | null;
  country: string | null;
}

export interface Camera {
  make: string | null;
  model: string | null;
}

export type DocumentType = "receipt" | "note" | "form" | "other" | "none";

export interface TextLine {
  text: string;
  confidence: number;
  box: [number, number, number, number];
}

export interface ExtractedText {
  content: string;
  document_type: DocumentType;
  fields: Record<string, string | number | null>;
  lines: TextLine[];
}

export interface Image extends ImageSummary {
  width: number | null;
  height: number | null;
  taken_at: string | null;
  stages: { tagging: StageState; ocr: StageState; search: StageState };
  labels: Label[];
  categories: string[];
  faces: number;
  colors: Colour[];
  location: Location | null;
  camera: Camera | null;
  text: ExtractedText | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Hit {
  image_id: string;
  score: number;
  filename: string;
  labels: string[];
  categories: string[];
  taken_at: string | null;
  highlights: { text?: string[]; labels?: string[] };
}

export interface FacetValue {
  value: string;
  count: number;
}

export type FacetName = "categories" | "labels" | "places" | "years" | "document_types";

export interface SearchResult {
  total: number;
  items: Hit[];
  facets: Partial<Record<FacetName, FacetValue[]>>;
  next_cursor: string | null;
}

export interface SearchFilters {
  category?: string;
  label?: string;
  place?: string;
  from?: string;
  to?: string;
  document_type?: string;
}

export interface SearchParams extends SearchFilters {
  q?: string;
  limit?: number;
  cursor?: string;
}

export interface Category {
  id: string;
  name: string;
  suggested_name: string;
  count: number;
  cover_image_id: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { loc?: (string | number)[]; msg?: string; type?: string }[];
}
