/**
 * Parsl stores DATETIME values as naive local-time text `YYYY-MM-DD HH:MM:SS.ffffff`
 * (always six fractional digits). The writer formats every timestamp it stores (about nine per
 * task), so the `YYYY-MM-DD HH:MM:SS.fff` prefix is cached per millisecond (a batch's timestamps
 * fall in a few of them at a time) on top of a cache of the whole-second part: most conversions
 * are one concatenation with a constant three-digit string, the least garbage a fresh string
 * can make (the writer's garbage collection is a fifth of its time).
 */
import type { Micros } from "../vocabulary/time.js";

const CACHE_SLOTS = 64; // direct-mapped by second; a few seconds are "live" at a time
const cachedSecond = new Float64Array(CACHE_SLOTS).fill(Number.NaN);
const cachedPrefix: string[] = new Array<string>(CACHE_SLOTS).fill("");

const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n));

function secondPrefix(second: number): string {
  const slot = ((second % CACHE_SLOTS) + CACHE_SLOTS) % CACHE_SLOTS;
  if (cachedSecond[slot] === second) return cachedPrefix[slot]!;
  const d = new Date(second * 1000);
  const year = d.getFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`timestamp ${second * 1e6} µs is outside years 0000-9999`);
  const prefix =
    String(year).padStart(4, "0") +
    "-" +
    pad2(d.getMonth() + 1) +
    "-" +
    pad2(d.getDate()) +
    " " +
    pad2(d.getHours()) +
    ":" +
    pad2(d.getMinutes()) +
    ":" +
    pad2(d.getSeconds());
  cachedSecond[slot] = second;
  cachedPrefix[slot] = prefix;
  return prefix;
}

/** "000" … "999". */
const DIGITS3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
const MS_SLOTS = 4096; // direct-mapped by millisecond
const cachedMs = new Float64Array(MS_SLOTS).fill(Number.NaN);
const cachedMsPrefix: string[] = new Array<string>(MS_SLOTS).fill("");

/** Integer microseconds since the epoch → Parsl's DATETIME text in local time. */
export function formatMicros(us: Micros): string {
  if (!Number.isSafeInteger(us)) throw new TypeError(`timestamp must be an integer number of microseconds, got ${us}`);
  const ms = Math.floor(us / 1000);
  const slot = ms & (MS_SLOTS - 1); // the low bits, also of a negative or beyond-int32 ms
  let prefix: string;
  if (cachedMs[slot] === ms) prefix = cachedMsPrefix[slot]!;
  else {
    const second = Math.floor(ms / 1000);
    prefix = secondPrefix(second) + "." + DIGITS3[ms - second * 1000]!;
    cachedMs[slot] = ms;
    cachedMsPrefix[slot] = prefix;
  }
  return prefix + DIGITS3[us - ms * 1000]!;
}

const DATETIME_TEXT = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** Parsl's DATETIME text (naive local time) → integer microseconds since the epoch. */
export function parseDateTime(text: string): Micros {
  const m = DATETIME_TEXT.exec(text);
  if (!m) throw new TypeError(`not a DATETIME value (expected YYYY-MM-DD HH:MM:SS.ffffff): ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, f] = m;
  const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  // new Date(y, …) maps years 0-99 to 1900-1999; set the year explicitly.
  date.setFullYear(Number(y));
  const micros = f === undefined ? 0 : Number(f.padEnd(6, "0"));
  return date.getTime() * 1000 + micros;
}

/** The one clock (vocabulary/time.ts), re-exported for the writer's callers of this module. */
export { nowMicros } from "../vocabulary/time.js";
