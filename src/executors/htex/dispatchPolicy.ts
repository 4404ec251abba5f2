/**
 * Which pool gets how many of the queued tries: a pure function over a read-only view of the
 * pools (piscina's balancer is the model; `providers/strategy.ts`'s `decide()` is its sibling
 * for blocks). The interchange owns the queue and the connections and applies the result;
 * this module only decides, so the rule can be tested without a socket.
 */
import type { Micros } from "../../monitoring/messages.js";

/** What the policy, the executor and tests may know about a pool. Never a live object to change. */
export interface PoolView {
  readonly uid: string;
  readonly hostname: string;
  readonly blockId: string;
  readonly workerCount: number;
  /** Tries the pool may hold now (workers + prefetch). */
  readonly capacity: number;
  /** Tries sent to it and not yet answered. */
  readonly inflight: number;
  /** False once its block is being scaled in (Parsl's manager hold): it gets no more tries. */
  readonly active: boolean;
  /** When the interchange last heard from it (any message), our clock. */
  readonly lastHeartbeat: Micros;
  /**
   * `lastHeartbeat` moved later by the time the interchange's own thread stalled since then
   * (its messages waited unread, so that time is not its silence). What silence is judged by.
   */
  readonly lastHeard: Micros;
}

export interface DispatchInput {
  /** Tries waiting in the queue, oldest first; assignments take them from the front. */
  pending: number;
  pools: readonly PoolView[];
  /** Now, our clock. */
  now: Micros;
  /**
   * A pool silent for longer than this (µs) gets nothing until it is heard from again: it may be
   * on its way to being declared lost, and tries sent to it would wait for the loss to fail.
   */
  silentAfter: number;
  /** Where the previous round stopped (index into `pools`), so rounds rotate over the pools. */
  cursor: number;
}

export interface Assignment {
  /** Index into the input's `pools`. */
  pool: number;
  count: number;
}

export interface DispatchDecision {
  assignments: Assignment[];
  /** Pass back as the next round's cursor. */
  cursor: number;
}

/**
 * Shares the pending tries evenly between the pools with room, each up to its free capacity and
 * at least up to its idle workers, starting after the pool the previous round ended on (so a
 * trickle of tries spreads over the pools rather than always landing on the first ones).
 *
 * It runs once per event-loop turn in which tries were queued or answered, so it allocates
 * nothing but its answer and stops early: when the first pool with room has idle workers for
 * every pending try (a trickle, the common case), it takes them all, after a scan only as long
 * as the run of full or silent pools before it. Otherwise one pass counts the pools with room
 * and a second shares: O(pools), amortised over at least that pool's idle workers + 1 tries.
 */
export function assignTries(i: DispatchInput): DispatchDecision {
  const n = i.pools.length;
  if (i.pending <= 0 || n === 0) return { assignments: [], cursor: i.cursor };
  const start = ((i.cursor % n) + n) % n;
  const hasRoom = (p: PoolView): boolean => p.active && p.inflight < p.capacity && i.now - p.lastHeard <= i.silentAfter;
  let first = -1;
  for (let k = 0; k < n; k++) {
    const idx = start + k < n ? start + k : start + k - n;
    if (hasRoom(i.pools[idx]!)) {
      first = k;
      break;
    }
  }
  if (first < 0) return { assignments: [], cursor: i.cursor };
  const firstIdx = start + first < n ? start + first : start + first - n;
  const p0 = i.pools[firstIdx]!;
  // Idle workers for every try: the share rule below gives this pool all of them anyway.
  if (p0.workerCount - p0.inflight >= i.pending)
    return { assignments: [{ pool: firstIdx, count: i.pending }], cursor: firstIdx + 1 };
  let remaining = 0;
  for (let k = first; k < n; k++) if (hasRoom(i.pools[start + k < n ? start + k : start + k - n]!)) remaining++;
  const assignments: Assignment[] = [];
  let left = i.pending,
    cursor = i.cursor;
  for (let k = first; k < n && left > 0; k++) {
    const idx = start + k < n ? start + k : start + k - n;
    const p = i.pools[idx]!;
    if (!hasRoom(p)) continue;
    // An even share, but at least as many as the pool has idle workers: each try still starts at
    // once, and a trickle travels as one batch to one pool instead of a frame per try per pool.
    const idleWorkers = Math.max(0, p.workerCount - p.inflight);
    const share = Math.min(
      p.capacity - p.inflight,
      Math.max(Math.ceil(left / remaining--), Math.min(idleWorkers, left)),
    );
    assignments.push({ pool: idx, count: share });
    left -= share;
    cursor = idx + 1;
  }
  return { assignments, cursor };
}
