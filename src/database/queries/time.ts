/**
 * Parsl stores DATETIME as naive local text `YYYY-MM-DD HH:MM:SS.ffffff`. The visualizer treats
 * those values as opaque wall-clock readings: it converts them to milliseconds as if they were UTC
 * (so differences are right and charts can show them unchanged) and formats "now" the same way.
 */
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** Milliseconds on the naive clock, or null for NULL / unparseable values. */
export function naiveToMs(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const m = DATETIME_RE.exec(value);
  if (!m) return null;
  const frac = (m[7] ?? "").padEnd(6, "0");
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + Number(frac) / 1000;
}

/** The current local wall-clock time in the same naive scale as `naiveToMs`. */
export function naiveNowMs(now: Date = new Date()): number {
  return Date.UTC(
    now.getFullYear(),
    now.getMonth(),
    now.getDate(),
    now.getHours(),
    now.getMinutes(),
    now.getSeconds(),
    now.getMilliseconds(),
  );
}

const pad = (n: number, w = 2): string => String(n).padStart(w, "0");

/** Formats naive milliseconds back into Parsl's text form (microsecond precision). */
export function msToNaive(ms: number): string {
  const d = new Date(ms);
  const micros = Math.round((ms - Math.floor(ms / 1000) * 1000) * 1000);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(micros, 6)}`
  );
}
