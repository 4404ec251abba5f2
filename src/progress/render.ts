/**
 * Live progress of a run as text, shared by `parsl-ts watch` (from the database) and
 * `Config.progress` (from the kernel's own task states): a snapshot model, the rate/ETA meter,
 * the multi-line terminal view (per-app bars) and the one plain line used when the output is
 * not a terminal. Pure functions, no I/O (see live.ts for the terminal).
 */

/** The five buckets every task state falls into. */
export const BUCKETS = ["pending", "launched", "running", "done", "failed"] as const;
export type Bucket = (typeof BUCKETS)[number];

/** Parsl's states, by bucket (anything else, e.g. a task with no state yet, is pending). */
export function bucketOf(state: string | null | undefined): Bucket {
  switch (state) {
    case "launched":
      return "launched";
    case "running":
    case "running_ended":
    case "joining":
      return "running";
    case "exec_done":
    case "memo_done":
      return "done";
    case "failed":
    case "dep_fail":
      return "failed";
    default:
      return "pending"; // pending, fail_retryable (waits for its next try), unsched, unknown
  }
}

export type AppProgress = { name: string } & Record<Bucket, number>;

export interface ProgressFailure {
  task_id: number;
  app: string;
  error: string;
}

export interface ProgressSnapshot {
  /** e.g. `run 3f2a1c… (my-workflow)`. */
  title: string;
  /** running, completed, failed, … */
  status: string;
  elapsed_s: number;
  apps: AppProgress[];
  /** Newest first. */
  failures: ProgressFailure[];
  /** Tasks finished (done or failed) per second, recently; null until measurable. */
  rate: number | null;
}

export function totals(apps: readonly AppProgress[]): Record<Bucket, number> & { total: number } {
  const t = { pending: 0, launched: 0, running: 0, done: 0, failed: 0, total: 0 };
  for (const a of apps)
    for (const b of BUCKETS) {
      t[b] += a[b];
      t.total += a[b];
    }
  return t;
}

/** Seconds until every known task has finished at the current rate; null when unknown. */
export function eta(s: ProgressSnapshot): number | null {
  const t = totals(s.apps);
  const left = t.total - t.done - t.failed;
  if (left === 0) return 0;
  return s.rate !== null && s.rate > 0 ? left / s.rate : null;
}

/**
 * Finished tasks per second over the last `windowMs` (default 10 s) of samples: recent enough to
 * follow a run that speeds up or stalls, long enough not to jump with every batch.
 */
export class RateMeter {
  private readonly samples: [number, number][] = [];
  constructor(private readonly windowMs = 10_000) {}

  add(atMs: number, finished: number): void {
    const last = this.samples[this.samples.length - 1];
    if (
      last &&
      last[1] === finished &&
      this.samples.length > 1 &&
      atMs - this.samples[this.samples.length - 2]![0] < this.windowMs
    ) {
      last[0] = atMs; // no progress: move the newest sample instead of adding one
    } else {
      this.samples.push([atMs, finished]);
    }
    while (this.samples.length > 2 && atMs - this.samples[1]![0] >= this.windowMs) this.samples.shift();
  }

  rate(): number | null {
    if (this.samples.length < 2) return null;
    const [t0, n0] = this.samples[0]!;
    const [t1, n1] = this.samples[this.samples.length - 1]!;
    return t1 - t0 >= 500 ? ((n1 - n0) * 1000) / (t1 - t0) : null;
  }
}

const num = (n: number): string => n.toLocaleString("en-US");

/** `45 s`, `3m 12s`, `2h 05m`. */
export function shortDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function rateText(rate: number | null): string {
  if (rate === null) return "– tasks/s";
  return `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} tasks/s`;
}

/** The one plain line (non-terminal output): `run … running 12s: 40/100 done, 2 failed, 5 running, 3 launched, 50 pending · 12.1 tasks/s · ETA 5s`. */
export function renderLine(s: ProgressSnapshot): string {
  const t = totals(s.apps);
  const e = eta(s);
  const parts = [
    `${num(t.done)}/${num(t.total)} done`,
    `${num(t.failed)} failed`,
    `${num(t.running)} running`,
    `${num(t.launched)} launched`,
    `${num(t.pending)} pending`,
  ];
  const tail = s.status === "running" ? ` · ${rateText(s.rate)} · ETA ${e === null ? "?" : shortDuration(e)}` : "";
  return `${s.title} ${s.status} ${shortDuration(s.elapsed_s)}: ${parts.join(", ")}${tail}`;
}

// Bar segments: done, failed, running, launched, pending. Without colour each has its own character.
const SEG_CHAR: Record<Bucket, string> = { done: "█", failed: "x", running: "▓", launched: "▒", pending: "░" };
const SEG_COLOR: Record<Bucket, string> = { done: "32", failed: "31", running: "34", launched: "36", pending: "90" };
const SEG_ORDER: readonly Bucket[] = ["done", "failed", "running", "launched", "pending"];

/** A bar of `width` cells split by bucket (largest-remainder rounding, so cells add up and a non-zero bucket shows). */
export function bar(a: Record<Bucket, number>, width: number, color: boolean): string {
  const total = SEG_ORDER.reduce((x, b) => x + a[b], 0);
  if (total === 0) return " ".repeat(width);
  const exact = SEG_ORDER.map((b) => (a[b] * width) / total);
  const cells = exact.map((x, i) => (a[SEG_ORDER[i]!] > 0 ? Math.max(1, Math.floor(x)) : 0));
  let used = cells.reduce((x, y) => x + y, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((p, q) => q[0] - p[0]);
  for (let k = 0; used < width && k < order.length * 2; k++) {
    const i = order[k % order.length]![1];
    if (a[SEG_ORDER[i]!] > 0) {
      cells[i]!++;
      used++;
    }
  }
  while (used > width) {
    const i = cells.indexOf(Math.max(...cells));
    cells[i]!--;
    used--;
  }
  return SEG_ORDER.map((b, i) => {
    const s = SEG_CHAR[b].repeat(cells[i]!);
    return color && s ? `\x1b[${SEG_COLOR[b]}m${s}\x1b[0m` : s;
  }).join("");
}

export interface BlockOptions {
  /** Terminal width (columns). */
  width: number;
  color: boolean;
  /** Apps shown one per line; the rest are summed into one line. */
  maxApps?: number;
  maxFailures?: number;
}

/** The multi-line terminal view: header, one bar per app (and a total), rate and ETA, latest failures. */
export function renderBlock(s: ProgressSnapshot, o: BlockOptions): string[] {
  const width = Math.max(40, o.width);
  const maxApps = o.maxApps ?? 12;
  const t = totals(s.apps);
  const e = eta(s);
  const bold = (x: string): string => (o.color ? `\x1b[1m${x}\x1b[0m` : x);
  const statusColor = s.status === "completed" ? "32" : s.status === "running" ? "34" : "31";
  const status = o.color ? `\x1b[${statusColor}m${s.status}\x1b[0m` : s.status;
  const lines = [
    `${bold(s.title)}  ${status}  ${shortDuration(s.elapsed_s)}  ${rateText(s.rate)}  ETA ${s.status !== "running" ? "–" : e === null ? "?" : shortDuration(e)}`,
  ];
  const apps = [...s.apps].sort((a, b) => a.name.localeCompare(b.name));
  const shown = apps.length > maxApps ? apps.slice(0, maxApps - 1) : apps;
  const rest = apps.slice(shown.length);
  const rows: AppProgress[] = [...shown];
  if (rest.length > 0) {
    const sum = totals(rest);
    rows.push({
      name: `(${rest.length} more apps)`,
      pending: sum.pending,
      launched: sum.launched,
      running: sum.running,
      done: sum.done,
      failed: sum.failed,
    });
  }
  if (apps.length > 1)
    rows.push({
      name: "all",
      pending: t.pending,
      launched: t.launched,
      running: t.running,
      done: t.done,
      failed: t.failed,
    });
  const nameW = Math.min(24, Math.max(3, ...rows.map((r) => r.name.length)));
  const countText = (r: AppProgress): string => {
    const all = r.pending + r.launched + r.running + r.done + r.failed;
    return (
      `${num(r.done)}/${num(all)}` +
      (r.failed ? ` ${num(r.failed)} failed` : "") +
      (r.running ? ` ${num(r.running)} run` : "") +
      (r.launched ? ` ${num(r.launched)} launched` : "") +
      (r.pending ? ` ${num(r.pending)} pending` : "")
    );
  };
  const texts = rows.map(countText);
  const textW = Math.max(...texts.map((x) => x.length));
  const barW = Math.max(10, Math.min(40, width - nameW - textW - 4));
  rows.forEach((r, i) => {
    const name = r.name.length > nameW ? r.name.slice(0, nameW - 1) + "…" : r.name.padEnd(nameW);
    lines.push(`${r.name === "all" ? bold(name) : name} ${bar(r, barW, o.color)} ${texts[i]}`);
  });
  const key = SEG_ORDER.map((b) => `${o.color ? `\x1b[${SEG_COLOR[b]}m${SEG_CHAR[b]}\x1b[0m` : SEG_CHAR[b]} ${b}`).join(
    "  ",
  );
  lines.push(key);
  const fails = s.failures.slice(0, o.maxFailures ?? 3);
  if (fails.length > 0) {
    lines.push(bold("latest failures:"));
    for (const f of fails) {
      const text = `  task ${f.task_id} (${f.app}): ${f.error.replace(/\s+/g, " ")}`;
      lines.push(text.length > width ? text.slice(0, width - 1) + "…" : text);
    }
  }
  return lines;
}
