/**
 * Microsecond wall-clock timestamps (`Micros`: integer µs since the Unix epoch), the one clock
 * of every layer (kernel, executors, worker pools, the database writer).
 *
 * Parsl stores timestamps with microseconds; `Date.now()` has only milliseconds, so time comes
 * from the high-resolution clock. `nowMicros()` never returns the same value twice in one
 * thread, which keeps `status` primary keys unique and gives a total order to the events of
 * one process.
 */

/** Integer microseconds since the Unix epoch. */
export type Micros = number;

const originMicros = performance.timeOrigin * 1000;
let last = 0;

export function nowMicros(): Micros {
  let t = Math.floor(originMicros + performance.now() * 1000);
  if (t <= last) t = last + 1;
  last = t;
  return t;
}
