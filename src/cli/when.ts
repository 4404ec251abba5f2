/**
 * Points in time on the command line (`db prune --before`, and the query commands' `--since`),
 * as Parsl stores them: naive local time. Accepted: an ISO date or date-time
 * (`2026-11-24`, `2026-11-24 21:52`, `2026-11-24T21:52:07.5`), read as local time unless it
 * names an offset (`Z`, `+02:00`), which is then converted to local time; or an age
 * (`30d`, `12h`, `2w`, `90m`, `45s`): that long before now.
 */
import { formatMicros } from "../database/timeformat.js";
import { UsageError } from "./args.js";

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const AGE = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/i;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** The time as Parsl's naive local text `YYYY-MM-DD HH:MM:SS.ffffff`; `option` names the option in errors. */
export function parseWhen(text: string, option: string, now: Date = new Date()): string {
  const t = text.trim();
  const age = AGE.exec(t);
  if (age) return formatMicros((now.getTime() - Number(age[1]) * UNIT_SECONDS[age[2]!.toLowerCase()]! * 1000) * 1000);
  const m = ISO.exec(t);
  if (!m) {
    throw new UsageError(
      `${option} takes a date or time such as 2026-11-24, "2026-11-24 21:52" or 2026-11-24T21:52:07 ` +
        `(local time), or an age such as 30d, 12h, 2w; got ${JSON.stringify(text)}`,
    );
  }
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = m;
  const micros = Number(frac.padEnd(6, "0") || 0);
  let ms: number;
  if (zone) {
    const iso = `${y}-${mo}-${d}T${h.padStart(2, "0")}:${mi.padStart(2, "0")}:${s.padStart(2, "0")}${zone.toUpperCase() === "Z" ? "Z" : zone.length === 5 ? zone.slice(0, 3) + ":" + zone.slice(3) : zone}`;
    ms = Date.parse(iso);
  } else {
    const date = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    date.setFullYear(Number(y));
    // Reject dates that Date silently rolls over (2026-02-30 → March 2).
    ms =
      date.getMonth() === Number(mo) - 1 && date.getDate() === Number(d) && date.getHours() === Number(h)
        ? date.getTime()
        : Number.NaN;
  }
  if (!Number.isFinite(ms)) throw new UsageError(`${option}: ${JSON.stringify(text)} is not a valid date or time`);
  return formatMicros(ms * 1000 + micros);
}
