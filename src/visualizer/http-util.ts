/** Small helpers for answering HTTP requests and validating their parameters. */
import type { ServerResponse } from "node:http";

/** A problem with the request itself; becomes a 4xx with this message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS: Record<string, string> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy":
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
};

export function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  extra: Record<string, string> = {},
): void {
  const buf = typeof body === "string" ? Buffer.from(body, "utf8") : body;
  res.writeHead(status, { "Content-Type": type, "Content-Length": String(buf.length), ...SECURITY_HEADERS, ...extra });
  res.end(res.req.method === "HEAD" ? undefined : buf);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value), { "Cache-Control": "no-store" });
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Run ids are uuid4 in Parsl; accept any short id made of safe characters. */
const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function checkRunId(raw: string): string {
  if (!RUN_ID_RE.test(raw)) throw new HttpError(400, `invalid run id ${JSON.stringify(raw.slice(0, 80))}`);
  return raw;
}

export function parseTaskId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw))
    throw new HttpError(400, `task id must be a non-negative integer, got ${JSON.stringify(raw.slice(0, 80))}`);
  return Number(raw);
}

/** An optional non-negative integer query parameter within [min, max]. */
export function intParam(
  q: URLSearchParams,
  name: string,
  def: number | null,
  min: number,
  max: number,
): number | null {
  const raw = q.get(name);
  if (raw === null || raw === "") return def;
  if (!/^\d{1,15}$/.test(raw))
    throw new HttpError(400, `query parameter "${name}" must be an integer, got ${JSON.stringify(raw.slice(0, 80))}`);
  const v = Number(raw);
  if (v < min || v > max)
    throw new HttpError(400, `query parameter "${name}" must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function textParam(q: URLSearchParams, name: string, maxLen = 256): string | undefined {
  const raw = q.get(name);
  if (raw === null || raw === "") return undefined;
  if (raw.length > maxLen) throw new HttpError(400, `query parameter "${name}" is longer than ${maxLen} characters`);
  noNul(raw, `query parameter "${name}"`);
  return raw;
}

export function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `malformed URL escape in ${JSON.stringify(raw.slice(0, 80))}`);
  }
}

/** PostgreSQL text cannot hold NUL, so no name in the database has one: refuse it before a query does. */
export function noNul(value: string, what: string): void {
  if (value.includes("\u0000")) throw new HttpError(400, `${what} must not contain a NUL character`);
}
