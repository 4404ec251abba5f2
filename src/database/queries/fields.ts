/**
 * The one vocabulary of task and try fields that `parsl-ts tasks`, the filter language (-F),
 * sorting and the `parsl-ts/query` API share. A field is a name, a type, a description and a
 * dialect-neutral SQL expression over these aliases:
 *
 *   t  the task row
 *   r  a try row: in a row per task, the task's latest try (highest try_id); with --tries, each try
 *
 * Columns that only parsl-ts writes (lineage hash, args, error type, exit code, …) are NULL on
 * databases written by Python Parsl (ReadContext.has), never an error.
 */
import { raw, sql, type Sql } from "../sql.js";
import type { ReadContext } from "./context.js";

/**
 * text, number, bool (1/0 in SQL, true/false out), duration (seconds), time (Parsl's naive
 * local text), bytes.
 */
export type FieldType = "text" | "number" | "bool" | "duration" | "time" | "bytes";

export interface Field {
  readonly name: string;
  readonly type: FieldType;
  readonly description: string;
  /** The SQL expression (aliases t and r, see above). */
  expr(ctx: ReadContext): Sql;
}

const TYPED_NULL: Record<FieldType, string> = {
  text: "CAST(NULL AS TEXT)",
  time: "CAST(NULL AS TEXT)",
  number: "CAST(NULL AS REAL)",
  bool: "CAST(NULL AS INTEGER)",
  duration: "CAST(NULL AS REAL)",
  bytes: "CAST(NULL AS REAL)",
};

/** A column (alias.col), or a typed NULL where the database lacks it (PostgreSQL then still knows a parameter's type). */
function col(alias: "t" | "r", table: string, column: string, type: FieldType): (ctx: ReadContext) => Sql {
  return (ctx) => (ctx.has(table, column) ? raw(`${alias}.${column}`) : raw(TYPED_NULL[type]));
}

/** Seconds from one time expression to another (NULL when either is NULL). */
function seconds(ctx: ReadContext, from: string, to: string): Sql {
  return sql`(${ctx.d.epochSeconds(raw(to))} - ${ctx.d.epochSeconds(raw(from))})`;
}

/** One value of the try's resource samples (every sample of the try, through ix_resource_run_task). */
function resourceOfTry(what: Sql): Sql {
  return sql`(SELECT ${what} FROM resource m WHERE m.run_id = r.run_id AND m.task_id = r.task_id AND m.try_id = r.try_id)`;
}

const f = (name: string, type: FieldType, description: string, expr: (ctx: ReadContext) => Sql): Field => ({
  name,
  type,
  description,
  expr,
});

export const FIELDS: readonly Field[] = [
  f("run_id", "text", "the run's id", () => raw("t.run_id")),
  f(
    "workflow",
    "text",
    "the run's workflow name",
    () => sql`(SELECT w.workflow_name FROM workflow w WHERE w.run_id = t.run_id)`,
  ),
  f("task_id", "number", "the task's id within its run", () => raw("t.task_id")),
  f("try_id", "number", "the try's number (0 first); in a row per task, the latest try's", () => raw("r.try_id")),
  f("app", "text", "the app's name (task_func_name)", () => raw("t.task_func_name")),
  f(
    "state",
    "text",
    "the task's latest state, in Parsl's names (exec_done, failed, dep_fail, memo_done, pending, launched, running, …)",
    (ctx) => ctx.latestExpr("t"),
  ),
  f(
    "try_state",
    "text",
    "the try's latest state",
    (ctx) => sql`(SELECT s.task_status_name FROM status s
    WHERE s.task_id = r.task_id AND ${ctx.runCol("s")} = r.run_id AND s.try_id = r.try_id ORDER BY ${ctx.statusOrder("s", true)} LIMIT 1)`,
  ),
  f(
    "memo",
    "bool",
    "true when the result came from the memo table or a checkpoint (state memo_done)",
    (ctx) => sql`(CASE WHEN ${ctx.latestExpr("t")} = 'memo_done' THEN 1 ELSE 0 END)`,
  ),
  f("executor", "text", "the executor's label", () => raw("r.task_executor")),
  f("host", "text", "the host the try ran on", () => raw("r.hostname")),
  f("block", "text", "the executor block the try ran in", () => raw("r.block_id")),
  f(
    "job_id",
    "text",
    "the batch job id of that block (block table)",
    () => sql`(SELECT b.job_id FROM block b
    WHERE b.run_id = r.run_id AND b.block_id = r.block_id AND b.executor_label = r.task_executor ORDER BY b.timestamp DESC LIMIT 1)`,
  ),
  f("tries", "number", "how many tries the task had", () =>
    raw("(SELECT COUNT(*) FROM try x WHERE x.run_id = t.run_id AND x.task_id = t.task_id)"),
  ),
  f("fail_count", "number", "failed tries of the task (task_fail_count)", () => raw("t.task_fail_count")),
  f("fail_cost", "number", "the retry budget the failures used (task_fail_cost)", () => raw("t.task_fail_cost")),
  f("invoked", "time", "when the task was submitted", () => raw("t.task_time_invoked")),
  f("launched", "time", "when the try was handed to its executor", () => raw("r.task_try_time_launched")),
  f("running", "time", "when the try started running on a worker", () => raw("r.task_try_time_running")),
  f("try_returned", "time", "when the try's result came back", () => raw("r.task_try_time_returned")),
  f("returned", "time", "when the task's result was set", () => raw("t.task_time_returned")),
  f("wait_s", "duration", "submitted → try launched: waiting for dependencies and the executor", (ctx) =>
    seconds(ctx, "t.task_time_invoked", "r.task_try_time_launched"),
  ),
  f("queue_s", "duration", "try launched → running: queued in the executor", (ctx) =>
    seconds(ctx, "r.task_try_time_launched", "r.task_try_time_running"),
  ),
  f("run_s", "duration", "try running → returned: the try's run time", (ctx) =>
    seconds(ctx, "r.task_try_time_running", "r.task_try_time_returned"),
  ),
  f("total_s", "duration", "task submitted → returned", (ctx) =>
    seconds(ctx, "t.task_time_invoked", "t.task_time_returned"),
  ),
  f("mem_peak", "bytes", "peak resident memory of the try (resource samples)", () =>
    resourceOfTry(raw("MAX(m.psutil_process_memory_resident)")),
  ),
  f("vmem_peak", "bytes", "peak virtual memory of the try (resource samples)", () =>
    resourceOfTry(raw("MAX(m.psutil_process_memory_virtual)")),
  ),
  f("cpu_s", "duration", "CPU time of the try, user + system (resource samples)", () =>
    resourceOfTry(raw("MAX(m.psutil_process_time_user + m.psutil_process_time_system)")),
  ),
  f(
    "exit_code",
    "number",
    "a bash app's exit code (128 + signal for a lost worker; Python Parsl databases: from a BashExitFailure)",
    (ctx) => ctx.exitCodeExpr("r"),
  ),
  f("error_type", "text", "the error's class name (Python Parsl databases: read from the failure history)", (ctx) => {
    // Parsl's task_fail_history is the exception's repr, "ValueError('boom')": its name ends at "(".
    const hist = sql`(CASE WHEN ${ctx.d.strpos(raw("r.task_fail_history"), raw("'('"))} > 1
      THEN SUBSTR(r.task_fail_history, 1, ${ctx.d.strpos(raw("r.task_fail_history"), raw("'('"))} - 1) END)`;
    return ctx.has("try", "task_try_error_type") ? sql`COALESCE(r.task_try_error_type, ${hist})` : hist;
  }),
  f("error", "text", "the error's message (Python Parsl databases: the failure history)", (ctx) => {
    const hist = raw("NULLIF(r.task_fail_history, '')");
    return ctx.has("try", "task_try_error") ? sql`COALESCE(r.task_try_error, ${hist})` : hist;
  }),
  f(
    "stderr_tail",
    "text",
    "the last 4 KiB the failed try wrote to stderr [parsl-ts]",
    col("r", "try", "task_try_stderr_tail", "text"),
  ),
  f(
    "stdout_tail",
    "text",
    "the last 4 KiB the failed try wrote to stdout [parsl-ts]",
    col("r", "try", "task_try_stdout_tail", "text"),
  ),
  f("hashsum", "text", "the memoization hash (task_hashsum): equal in every run of the same computation", () =>
    raw("t.task_hashsum"),
  ),
  f(
    "lineage_hash",
    "text",
    "hash of the app and its arguments, futures replaced by their producers' lineage [parsl-ts]",
    col("t", "task", "task_lineage_hash", "text"),
  ),
  f("memoize", "text", "whether the app asked for memoization (task_memoize)", () => raw("t.task_memoize")),
  f("depends", "text", "ids of the tasks it depends on, comma-separated", () => raw("t.task_depends")),
  f("joins", "text", "a join app's inner task ids", () => raw("r.task_joins")),
  f("args", "text", "the positional arguments (bounded repr) [parsl-ts]", col("t", "task", "task_args", "text")),
  f("inputs", "text", "the inputs= files", () => raw("t.task_inputs")),
  f("outputs", "text", "the outputs= files", () => raw("t.task_outputs")),
  f("stdout", "text", "the stdout path", () => raw("t.task_stdout")),
  f("stderr", "text", "the stderr path", () => raw("t.task_stderr")),
];

const BY_NAME = new Map(FIELDS.map((x) => [x.name, x]));

export function field(name: string): Field | undefined {
  return BY_NAME.get(name);
}

/** The field names nearest to `name` (edit distance), for "did you mean". */
export function closestFields(name: string, max = 2): string[] {
  const scored = FIELDS.map((x) => ({
    n: x.name,
    d: editDistance(name.toLowerCase(), x.name) + (x.name.startsWith(name.toLowerCase()) ? -1 : 0),
  }));
  scored.sort((a, b) => a.d - b.d || a.n.localeCompare(b.n));
  const limit = Math.max(2, Math.ceil(name.length / 2));
  return scored
    .filter((s) => s.d <= limit)
    .slice(0, max)
    .map((s) => s.n);
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** Default columns of `parsl-ts tasks`. */
export const DEFAULT_TASK_FIELDS = [
  "task_id",
  "app",
  "state",
  "tries",
  "executor",
  "host",
  "invoked",
  "run_s",
  "total_s",
];
export const DEFAULT_TRY_FIELDS = [
  "task_id",
  "try_id",
  "app",
  "try_state",
  "executor",
  "host",
  "block",
  "launched",
  "run_s",
  "exit_code",
  "error_type",
];
export const DEFAULT_ALL_RUNS_FIELDS = ["run_id", "workflow", "task_id", "app", "state", "memo", "invoked", "total_s"];

/** A row value as the API returns it: bool fields as booleans, numbers as numbers. */
export function fieldValue(type: FieldType, v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  switch (type) {
    case "bool":
      return Number(v) !== 0;
    case "number":
    case "bytes": {
      const n = Number(v);
      return Number.isFinite(n) ? n : null;
    }
    // Milliseconds: SQLite's julianday arithmetic carries about 50 µs of rounding, and CPU-time sums float noise.
    case "duration": {
      const n = Number(v);
      return Number.isFinite(n) ? Math.round(n * 1000) / 1000 : null;
    }
    default:
      return String(v);
  }
}
