/**
 * Memoises read results per change token. Results of slow queries (those that took longer than
 * `slowMs`) are reused for up to `maxStaleMs` even after the token moves on, so a live run with a
 * million tasks does not recompute its heavy aggregates on every poll. Callers that ask for the
 * same key and token while it is being computed share one computation.
 */
interface Entry {
  token: string;
  at: number;
  costMs: number;
  value: unknown;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly maxEntries = 256,
    private readonly slowMs = 150,
    private readonly maxStaleMs = 10_000,
  ) {}

  get<T>(key: string, token: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && (hit.token === token || (hit.costMs > this.slowMs && Date.now() - hit.at < this.maxStaleMs))) {
      return Promise.resolve(hit.value as T);
    }
    const flightKey = `${key}\u0000${token}`;
    const running = this.inflight.get(flightKey);
    if (running) return running as Promise<T>;
    const at = Date.now();
    const t0 = performance.now();
    const p = compute()
      .then((value) => {
        this.entries.delete(key);
        this.entries.set(key, { token, at, costMs: performance.now() - t0, value });
        if (this.entries.size > this.maxEntries) {
          const oldest = this.entries.keys().next().value;
          if (oldest !== undefined) this.entries.delete(oldest);
        }
        return value;
      })
      .finally(() => this.inflight.delete(flightKey));
    this.inflight.set(flightKey, p);
    return p;
  }
}
