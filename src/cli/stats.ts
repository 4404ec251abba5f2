/**
 * `parsl-ts stats [RUN]`: the pegasus-statistics view of a run (database/queries/stats.ts);
 * `--compare RUN2` per-app changes with regressions flagged; `--all` a line per run.
 */
import {
  REGRESSION_RULE,
  STATS_GROUPINGS,
  type RunStats,
  type StatsComparison,
  type StatsGroup,
  type StatsGrouping,
} from "../database/queries/stats.js";
import { EXIT, numberOption, parseArgs, UsageError } from "./args.js";
import { parseFormat, renderRows, type ColumnSpec, type Format } from "./output.js";
import { chooseRun, openQueryDb } from "./queryCommon.js";
import { bytes, round6, seconds } from "./queryDb.js";

export const STATS_USAGE = `usage: parsl-ts stats [RUN] [--by app|host|block|executor|hour] [--compare RUN2] [--all]
                      [--db ENDPOINT] [--workflow NAME] [--limit N] [--format table|json|csv|tsv]

Statistics of a run (RUN: a run id, a unique prefix of one, or latest; default latest):
tasks and tries per outcome, wall time, cumulative run time, badput, and per app (or --by key)
the run-time distribution of tries with peak memory and CPU time.
  --compare RUN2   per-app changes from RUN to RUN2, regressions flagged
  --all            one line per run (newest --limit runs, default 20; --workflow narrows)`;

export async function statsCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    {
      db: "value",
      workflow: "value",
      by: "value",
      compare: "value",
      all: "flag",
      limit: "value",
      format: "value",
      help: "flag",
    },
    { h: "help" },
  );
  if (p.options.has("help")) {
    console.log(STATS_USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length > 1)
    throw new UsageError(`stats takes one RUN, got ${p.positionals.length}: ${p.positionals.join(" ")}`);
  const format = parseFormat(p.options.get("format"));
  const byOpt = p.options.get("by") ?? "app";
  if (byOpt === true || !(STATS_GROUPINGS as readonly string[]).includes(byOpt)) {
    throw new UsageError(
      `--by must be one of ${STATS_GROUPINGS.join(", ")}, got ${JSON.stringify(byOpt === true ? "" : byOpt)}`,
    );
  }
  const by = byOpt as StatsGrouping;
  const all = p.options.has("all");
  const compare = p.options.get("compare");
  if (compare === true) throw new UsageError("--compare needs a run");
  if (all && (compare !== undefined || p.positionals.length > 0))
    throw new UsageError("--all summarises many runs: give no RUN and no --compare");
  if (compare !== undefined && p.options.has("by") && by !== "app")
    throw new UsageError("--compare compares apps: --by must be app");
  const limit = numberOption(p, "limit", 20, (n) => Number.isInteger(n) && n > 0, "a positive integer");
  const workflow = p.options.get("workflow");
  const db = await openQueryDb(p.options.get("db"), "parsl-ts stats");
  try {
    if (all) {
      if (workflow === true) throw new UsageError("--workflow needs a name");
      process.stdout.write(
        renderAll(await db.statsOfRuns({ ...(workflow !== undefined ? { workflow } : {}), limit }), format),
      );
      return EXIT.ok;
    }
    const run = await chooseRun(db, p.positionals[0], workflow);
    if (compare !== undefined) {
      const other = await chooseRun(db, compare, undefined);
      process.stdout.write(renderComparison(await db.compareRuns(run.run_id, other.run_id), format));
      return EXIT.ok;
    }
    process.stdout.write(renderStats(await db.runStats(run.run_id, { by }), format));
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

const approx = (s: RunStats): string => (s.sample_step > 1 ? "≈" : "");

function groupColumns(by: StatsGrouping, human: boolean): ColumnSpec<StatsGroup>[] {
  const t = (v: number | null): string | number | null => (human ? seconds(v) : round6(v));
  return [
    { key: by, value: (g) => g.key ?? (human ? "(none)" : null) },
    { key: "tasks", value: (g) => g.tasks, align: "right" },
    { key: "tries", value: (g) => g.tries, align: "right" },
    { key: "failed_tries", header: "failed", value: (g) => g.failed_tries, align: "right" },
    { key: "min_s", header: "min", value: (g) => t(g.run_time.min_s), align: "right" },
    { key: "mean_s", header: "mean", value: (g) => t(g.run_time.mean_s), align: "right" },
    { key: "p50_s", header: "p50", value: (g) => t(g.run_time.p50_s), align: "right" },
    { key: "p95_s", header: "p95", value: (g) => t(g.run_time.p95_s), align: "right" },
    { key: "max_s", header: "max", value: (g) => t(g.run_time.max_s), align: "right" },
    { key: "total_s", header: "total", value: (g) => t(g.run_time.total_s), align: "right" },
    {
      key: "peak_rss_bytes",
      header: "peak mem",
      value: (g) => (human ? bytes(g.peak_rss_bytes) : g.peak_rss_bytes),
      align: "right",
    },
    { key: "cpu_max_s", header: "max cpu", value: (g) => t(g.cpu_max_s), align: "right" },
  ];
}

export function renderStats(s: RunStats, format: Format): string {
  if (format === "json") return JSON.stringify(s, null, 2) + "\n";
  if (format !== "table") return renderRows(s.groups, groupColumns(s.by, false), format);
  const r = s.run;
  const a = approx(s);
  const lines = [
    `run       ${r.run_id}  ${r.workflow_name ?? "(unnamed)"}  ${r.status}`,
    `began     ${r.time_began}   wall time ${seconds(s.wall_time_s)}`,
    "",
  ];
  const T = s.tasks;
  const Y = s.tries;
  const counts = renderRows(
    [
      {
        what: "tasks",
        total: T.total,
        succeeded: T.succeeded,
        failed: T.failed,
        dep_fail: T.dep_fail,
        memo: T.memo,
        unfinished: T.unfinished,
        retried: String(T.retried),
      },
      {
        what: "tries",
        total: Y.total,
        succeeded: a + Y.succeeded,
        failed: a + Y.failed,
        dep_fail: "",
        memo: a + Y.memo,
        unfinished: a + Y.unfinished,
        retried: `${Y.retries} retries`,
      },
    ],
    ["what", "total", "succeeded", "failed", "dep_fail", "memo", "unfinished", "retried"].map((k) => ({
      key: k,
      header: k === "what" ? "" : k,
      value: (row: Record<string, string | number>) => row[k]!,
      align: k === "what" ? ("left" as const) : ("right" as const),
    })),
    "table",
  );
  lines.push(...counts.trimEnd().split("\n"), "");
  const pct = s.cumulative_run_s > 0 ? ` (${((100 * s.badput_s) / s.cumulative_run_s).toFixed(1)}% of run time)` : "";
  lines.push(
    `cumulative run time  ${a}${seconds(s.cumulative_run_s)}`,
    `badput (failed tries) ${a}${seconds(s.badput_s)}${pct}`,
    "",
  );
  lines.push(`per ${s.by} (run time of tries: returned − running)`);
  lines.push(...renderRows(s.groups, groupColumns(s.by, true), "table").trimEnd().split("\n"));
  if (s.sample_step > 1) {
    lines.push(
      "",
      `sampled: try figures (≈) are estimated from ${s.sampled_tasks} tasks (1 in ${s.sample_step.toFixed(1)}, in runs of consecutive ids) and scaled; task counts are exact`,
    );
  }
  return lines.join("\n") + "\n";
}

function change(a: number | null, b: number | null, fmt: (v: number | null) => string): string {
  if (a === null && b === null) return "-";
  const pc = a !== null && b !== null && a > 0 ? ` (${b >= a ? "+" : ""}${(((b - a) / a) * 100).toFixed(0)}%)` : "";
  return `${fmt(a)} → ${fmt(b)}${pc}`;
}

export function renderComparison(c: StatsComparison, format: Format): string {
  if (format === "json")
    return (
      JSON.stringify(
        { base: c.base.run.run_id, other: c.other.run.run_id, rule: REGRESSION_RULE, apps: c.apps },
        null,
        2,
      ) + "\n"
    );
  const pctFmt = (v: number | null): string => (v === null ? "-" : `${v.toFixed(1)}%`);
  if (format !== "table") {
    return renderRows(
      c.apps,
      [
        { key: "app", value: (x) => x.app },
        { key: "tasks_base", value: (x) => x.tasks[0] },
        { key: "tasks_other", value: (x) => x.tasks[1] },
        { key: "p50_s_base", value: (x) => round6(x.p50_s[0]) },
        { key: "p50_s_other", value: (x) => round6(x.p50_s[1]) },
        { key: "p95_s_base", value: (x) => round6(x.p95_s[0]) },
        { key: "p95_s_other", value: (x) => round6(x.p95_s[1]) },
        { key: "peak_rss_bytes_base", value: (x) => x.peak_rss_bytes[0] },
        { key: "peak_rss_bytes_other", value: (x) => x.peak_rss_bytes[1] },
        { key: "failed_pct_base", value: (x) => round6(x.failed_pct[0]) },
        { key: "failed_pct_other", value: (x) => round6(x.failed_pct[1]) },
        { key: "regressions", value: (x) => x.regressions.join("; ") },
      ],
      format,
    );
  }
  const R = REGRESSION_RULE;
  const lines = [
    `base   ${c.base.run.run_id}  ${c.base.run.workflow_name ?? "(unnamed)"}  began ${c.base.run.time_began}`,
    `other  ${c.other.run.run_id}  ${c.other.run.workflow_name ?? "(unnamed)"}  began ${c.other.run.time_began}`,
    "",
    ...renderRows(
      c.apps,
      [
        { key: "app", value: (x) => x.app },
        { key: "tasks", value: (x) => `${x.tasks[0]} → ${x.tasks[1]}` },
        { key: "p50 run time", value: (x) => change(x.p50_s[0], x.p50_s[1], seconds) },
        { key: "p95 run time", value: (x) => change(x.p95_s[0], x.p95_s[1], seconds) },
        { key: "peak memory", value: (x) => change(x.peak_rss_bytes[0], x.peak_rss_bytes[1], bytes) },
        {
          key: "failed tries",
          value: (x) =>
            x.failed_pct[0] === null && x.failed_pct[1] === null
              ? "-"
              : `${pctFmt(x.failed_pct[0])} → ${pctFmt(x.failed_pct[1])}`,
        },
        { key: "regression", value: (x) => (x.regressions.length ? `REGRESSION: ${x.regressions.join(", ")}` : "") },
      ],
      "table",
    )
      .trimEnd()
      .split("\n"),
    "",
    `regression: p50 or p95 run time +${R.timeRatio * 100}% and +${R.timeSeconds} s; peak memory +${R.memoryRatio * 100}% and +${R.memoryBytes / 1024 ** 2} MiB; ` +
      `failed tries +${R.failurePoints} percentage points`,
  ];
  const n = c.apps.filter((x) => x.regressions.length > 0).length;
  lines.push(`${n} of ${c.apps.length} apps regressed`);
  return lines.join("\n") + "\n";
}

export function renderAll(runs: RunStats[], format: Format): string {
  const human = format === "table";
  const t = (v: number | null): string | number | null => (human ? seconds(v) : round6(v));
  const rows = renderRows(
    runs,
    [
      { key: "run_id", value: (s) => (human ? s.run.run_id.slice(0, 8) : s.run.run_id) },
      { key: "workflow_name", header: "workflow", value: (s) => s.run.workflow_name },
      { key: "status", value: (s) => s.run.status },
      { key: "time_began", header: "began", value: (s) => (human ? s.run.time_began.slice(0, 19) : s.run.time_began) },
      { key: "wall_time_s", header: "wall", value: (s) => t(s.wall_time_s), align: "right" },
      { key: "tasks", value: (s) => s.tasks.total, align: "right" },
      { key: "succeeded", header: "ok", value: (s) => s.tasks.succeeded, align: "right" },
      { key: "failed", value: (s) => s.tasks.failed, align: "right" },
      { key: "dep_fail", value: (s) => s.tasks.dep_fail, align: "right" },
      { key: "memo", value: (s) => s.tasks.memo, align: "right" },
      { key: "unfinished", value: (s) => s.tasks.unfinished, align: "right" },
      { key: "retried", value: (s) => s.tasks.retried, align: "right" },
      { key: "tries", value: (s) => s.tries.total, align: "right" },
      {
        key: "cumulative_run_s",
        header: "run time",
        value: (s) => (human ? approx(s) + seconds(s.cumulative_run_s) : round6(s.cumulative_run_s)),
        align: "right",
      },
      {
        key: "badput_s",
        header: "badput",
        value: (s) => (human ? approx(s) + seconds(s.badput_s) : round6(s.badput_s)),
        align: "right",
      },
      {
        key: "sample_step",
        header: "sample",
        value: (s) => (human ? (s.sample_step > 1 ? `1/${s.sample_step.toFixed(0)}` : "") : round6(s.sample_step)),
      },
    ],
    format,
  );
  return human && runs.length === 0 ? "no runs\n" : rows;
}
