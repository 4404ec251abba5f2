/// <reference lib="dom" />
/** Tiny DOM and formatting helpers for the visualizer's browser code. */

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | undefined> = {},
  ...children: (Node | string | null)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null) el.append(c);
  return el;
}

export function svgTitle(text: string): SVGTitleElement {
  return s("title", {}, text);
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      msg = ((await res.json()) as { error?: string }).error ?? msg;
    } catch {
      /* keep status text */
    }
    throw new HttpError(res.status, msg);
  }
  return (await res.json()) as T;
}

const pad = (n: number): string => String(n).padStart(2, "0");

/** Naive-clock milliseconds (see timefmt.ts on the server) as HH:MM:SS. */
export function clock(ms: number, withDate = false): string {
  const d = new Date(ms);
  const t = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return withDate ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${t}` : t;
}

/** Parses Parsl's `YYYY-MM-DD HH:MM:SS.ffffff` into naive-clock ms. */
export function parseTs(v: string | null | undefined): number | null {
  if (!v) return null;
  const ms = Date.parse(v.replace(" ", "T").slice(0, 23) + "Z");
  return Number.isNaN(ms) ? null : ms;
}

/** Drops the microseconds, like Parsl's timeformat filter. */
export function tsText(v: string | null | undefined): string {
  return v ? v.replace(/\.\d+$/, "") : "–";
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  if (seconds < 1) return `${(seconds * 1000).toFixed(0)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const t = Math.round(seconds);
  const hh = Math.floor(t / 3600);
  return `${hh}:${pad(Math.floor((t % 3600) / 60))}:${pad(t % 60)}`;
}

export function bytes(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function num(n: number): string {
  return n.toLocaleString("en-US");
}
