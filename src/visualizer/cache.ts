/**
 * Memoises reader results per change token. Results of slow queries (those that took longer than
 * `slowMs`) are reused for up to `maxStaleMs` even after the token moves on, so a live run with a
 * million tasks does not recompute its heavy aggregates on every poll.
 */
interface Entry {
  token: string;
  at: number;
  costMs: number;
  value: unknown;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 256, private readonly slowMs = 150, private readonly maxStaleMs = 10_000) {}

  get<T>(key: string, token: string, compute: () => T): T {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && (hit.token === token || (hit.costMs > this.slowMs && now - hit.at < this.maxStaleMs))) {
      return hit.value as T;
    }
    const t0 = performance.now();
    const value = compute();
    const costMs = performance.now() - t0;
    this.entries.delete(key);
    this.entries.set(key, { token, at: now, costMs, value });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return value;
  }
}
