/**
 * Microsecond wall-clock timestamps (`Micros`: integer µs since the Unix epoch).
 *
 * Parsl stores timestamps with microseconds; `Date.now()` has only milliseconds, so we
 * derive time from the high-resolution clock. `nowMicros()` never returns the same value
 * twice in one thread, which keeps `status` primary keys unique and gives a total order
 * to the events of one process.
 */
import type { Micros } from "../monitoring/messages.js";

const originMicros = performance.timeOrigin * 1000;
let last = 0;

export function nowMicros(): Micros {
  let t = Math.floor(originMicros + performance.now() * 1000);
  if (t <= last) t = last + 1;
  last = t;
  return t;
}

/** Micros → `Date` (loses the sub-millisecond part). */
export function microsToDate(us: Micros): Date {
  return new Date(Math.floor(us / 1000));
}
