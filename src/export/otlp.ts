/**
 * OpenTelemetry traces of runs, as OTLP/JSON lines in the form the OpenTelemetry Collector's file
 * exporter writes and its OTLP JSON file receiver reads: one ExportTraceServiceRequest per line
 * (`{"resourceSpans": [...]}`), lowerCamelCase keys, trace and span ids as hex, enums as integers,
 * 64-bit integers (times in ns) as decimal strings.
 *
 * One trace per run. Its trace id is the run id's 32 hex digits when the run id is a UUID (as
 * Parsl's are), else the first 16 bytes of SHA-256 of the run id; span ids are the first 8 bytes
 * of SHA-256 of "run_id/task/N" and "run_id/try/N/K": the same database always gives the same ids.
 * Spans: the run (root) → a span per task → a span per try. A task's status rows are its span's
 * events. Names follow the `cicd.pipeline.*` semantic conventions where they fit; the rest are
 * `parsl.*` (docs/CLI.md has the whole mapping). Lines hold at most TASKS_PER_LINE tasks, so a run of
 * any size streams with bounded memory.
 *
 * Parsl's timestamps are naive local time: they are read in the exporting process's time zone
 * (set TZ to the zone of the machine that wrote the database if it differs).
 */
import { createHash } from "node:crypto";
import type { Row } from "../database/connection.js";
import type { ReadContext } from "../database/queries/context.js";
import { runStatus } from "../database/queries/runs.js";
import { join, quoted, raw, sql } from "../database/sql.js";
import type { OutputFile } from "./files.js";

export const TASKS_PER_LINE = 1_000;

/** OTLP enums (opentelemetry-proto trace.proto). */
const SPAN_KIND_INTERNAL = 1;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface SpanEvent {
  timeUnixNano: string;
  name: string;
  attributes: KeyValue[];
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  events?: SpanEvent[];
  status: { code: number; message?: string };
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function traceIdOf(runId: string): string {
  if (UUID_RE.test(runId)) {
    const hex = runId.replace(/-/g, "").toLowerCase();
    if (!/^0+$/.test(hex)) return hex;
  }
  return createHash("sha256").update(runId).digest("hex").slice(0, 32);
}

export function spanIdOf(...parts: (string | number)[]): string {
  return createHash("sha256").update(parts.join("/")).digest("hex").slice(0, 16);
}

const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
/** This zone's offset (ms) per naive hour "YYYY-MM-DD HH": zone rules change at most hourly. */
const offsets = new Map<string, number>();

/** Unix time in ns (decimal string) of a naive local timestamp; null when NULL or unparseable. */
export function unixNanos(text: unknown): string | null {
  if (typeof text !== "string") return null;
  const m = DATETIME_RE.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = [+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  const hour = text.slice(0, 13);
  let off = offsets.get(hour);
  if (off === undefined) {
    off = Date.UTC(y, mo, d, h) - new Date(y, mo, d, h).getTime();
    if (offsets.size > 100_000) offsets.clear();
    offsets.set(hour, off);
  }
  const micros = (m[7] ?? "").padEnd(6, "0");
  const ms = Date.UTC(y, mo, d, h, mi, sec) - off + Number(micros.slice(0, 3));
  if (!Number.isFinite(ms) || ms < 0) return null;
  // ms × 10^6 exceeds 2^53: build the digits as text.
  return `${ms}${micros.slice(3)}000`;
}

function attr(key: string, v: unknown): KeyValue | null {
  if (v === null || v === undefined || v === "") return null;
  if (typeof v === "object" && "double" in v) return { key, value: { doubleValue: (v as { double: number }).double } };
  if (typeof v === "boolean") return { key, value: { boolValue: v } };
  if (typeof v === "number" || typeof v === "bigint") {
    return Number.isInteger(Number(v))
      ? { key, value: { intValue: String(v) } }
      : { key, value: { doubleValue: Number(v) } };
  }
  return { key, value: { stringValue: String(v) } };
}

/** A FLOAT column's value: always a double, even when it holds a whole number. */
const double = (v: unknown): { double: number } | null =>
  v === null || v === undefined || v === "" ? null : { double: Number(v) };

const attrs = (pairs: [string, unknown][]): KeyValue[] =>
  pairs.map(([k, v]) => attr(k, v)).filter((x): x is KeyValue => x !== null);

/** cicd.pipeline.result of a run status (semconv values: success, failure, error, cancellation, …). */
const RUN_RESULT: Record<string, string> = {
  completed: "success",
  failed: "failure",
  crashed: "error",
  interrupted: "cancellation",
};
/** cicd.pipeline.task.run.result of a task's final state. */
const TASK_RESULT: Record<string, string> = {
  exec_done: "success",
  memo_done: "success",
  failed: "failure",
  dep_fail: "skip",
};

export interface OtlpCounts {
  traces: number;
  spans: number;
  events: number;
  lines: number;
}

/** The later of two ns times (decimal strings without leading zeros compare by length, then text). */
const maxNs = (a: string | null, b: string | null): string | null =>
  a === null ? b : b === null ? a : a.length !== b.length ? (a.length > b.length ? a : b) : a >= b ? a : b;

/** Writes one run's trace to `out`, adding to `counts`. */
export async function writeRunTrace(
  ctx: ReadContext,
  runId: string,
  out: OutputFile,
  scope: { name: string; version: string },
  counts: OtlpCounts,
): Promise<void> {
  const wf = await ctx.workflowRow(runId);
  const status = await runStatus(ctx, runId);
  const traceId = traceIdOf(runId);
  const runSpanId = spanIdOf(runId, "run");
  const runStart = unixNanos(wf["time_began"]) ?? "0";
  const runEnd = unixNanos(wf["time_completed"]) ?? unixNanos(msToText(await ctx.endMs(runId, wf))) ?? runStart;
  const resource = {
    attributes: attrs([
      ["service.name", wf["workflow_name"] ?? "parsl"],
      ["host.name", wf["host"]],
      ["parsl.user", wf["user"]],
      ["parsl.rundir", wf["rundir"]],
    ]),
  };
  const emit = async (spans: OtlpSpan[]): Promise<void> => {
    if (spans.length === 0) return;
    await out.write(JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] }) + "\n");
    counts.spans += spans.length;
    counts.lines++;
  };
  const failedRun = status.status === "failed" || status.status === "crashed";
  await emit([
    {
      traceId,
      spanId: runSpanId,
      name: String(wf["workflow_name"] ?? runId),
      kind: SPAN_KIND_INTERNAL,
      startTimeUnixNano: runStart,
      endTimeUnixNano: runEnd,
      attributes: attrs([
        ["cicd.pipeline.name", wf["workflow_name"]],
        ["cicd.pipeline.run.id", runId],
        ["cicd.pipeline.result", RUN_RESULT[status.status]],
        ["parsl.run.status", status.status],
        ["parsl.run.status_reason", status.status_reason],
        ["parsl.workflow.version", wf["workflow_version"]],
        ["parsl.tasks.completed", status.tasks_completed_count],
        ["parsl.tasks.failed", status.tasks_failed_count],
        ["parsl.tasks.memo", status.tasks_memo_count],
      ]),
      status: failedRun
        ? { code: STATUS_ERROR, message: `run ${status.status}: ${status.status_reason}` }
        : { code: STATUS_UNSET },
    },
  ]);
  counts.traces++;

  // Block → batch job id, from the run's (small) block table.
  const jobs = new Map<string, string>();
  for (const b of await ctx.db.all(
    sql`SELECT executor_label, block_id, job_id FROM block WHERE run_id = ${runId} AND job_id IS NOT NULL`,
  )) {
    jobs.set(`${String(b["executor_label"])}/${String(b["block_id"])}`, String(b["job_id"]));
  }
  const tryCols = [
    "try_id",
    "task_id",
    "block_id",
    "hostname",
    "task_executor",
    "task_try_time_launched",
    "task_try_time_running",
    "task_try_time_returned",
    "task_fail_history",
    "task_try_error_type",
    "task_try_error",
  ].filter((c) => ctx.has("try", c));
  const taskCols = [
    "task_id",
    "task_func_name",
    "task_depends",
    "task_memoize",
    "task_hashsum",
    "task_time_invoked",
    "task_time_returned",
    "task_fail_count",
    "task_fail_cost",
    "task_lineage_hash",
  ].filter((c) => ctx.has("task", c));
  const list = (cs: string[], alias: string) =>
    join(
      cs.map((c) => raw(`${alias}.${quoted(c)}`)),
      ", ",
    );

  let after = -Infinity;
  for (;;) {
    const tasks = await ctx.db.all(sql`SELECT ${list(taskCols, "t")} FROM task t WHERE ${ctx.runCol("t")} = ${runId}
      ${after === -Infinity ? raw("") : sql`AND t.task_id > ${after}`} ORDER BY t.task_id LIMIT ${TASKS_PER_LINE}`);
    if (tasks.length === 0) break;
    const lo = Number(tasks[0]!["task_id"]);
    const hi = Number(tasks[tasks.length - 1]!["task_id"]);
    after = hi;
    const tries = await ctx.db
      .all(sql`SELECT ${list(tryCols, "y")}, ${ctx.exitCodeExpr("y")} AS exit_code FROM try y WHERE y.run_id = ${runId} AND y.task_id BETWEEN ${lo} AND ${hi}
      ORDER BY y.task_id, y.try_id`);
    const statuses = await ctx.db.all(sql`SELECT s.task_id, s.task_status_name, s.timestamp, s.try_id FROM status s
      WHERE ${ctx.runCol("s")} = ${runId} AND s.task_id BETWEEN ${lo} AND ${hi} ORDER BY s.task_id, ${ctx.statusOrder("s")}`);
    const triesOf = groupBy(tries);
    const statusOf = groupBy(statuses);
    const spans: OtlpSpan[] = [];
    for (const t of tasks) {
      const id = Number(t["task_id"]);
      const taskSpanId = spanIdOf(runId, "task", id);
      const events = (statusOf.get(id) ?? []).map((s) => ({
        timeUnixNano: unixNanos(s["timestamp"]) ?? runStart,
        name: String(s["task_status_name"]),
        attributes: attrs([["parsl.try.id", s["try_id"]]]),
      }));
      counts.events += events.length;
      const latest = events.length > 0 ? events[events.length - 1]!.name : null;
      let lastEvent: string | null = null;
      for (const e of events) lastEvent = maxNs(lastEvent, e.timeUnixNano);
      const start = unixNanos(t["task_time_invoked"]) ?? events[0]?.timeUnixNano ?? runStart;
      const end = unixNanos(t["task_time_returned"]) ?? lastEvent ?? runEnd;
      const app = t["task_func_name"];
      const taskTries = triesOf.get(id) ?? [];
      const failedState = latest === "failed" || latest === "dep_fail";
      spans.push({
        traceId,
        spanId: taskSpanId,
        parentSpanId: runSpanId,
        name: String(app),
        kind: SPAN_KIND_INTERNAL,
        startTimeUnixNano: start,
        endTimeUnixNano: maxNs(end, start)!,
        attributes: attrs([
          ["cicd.pipeline.task.name", app],
          ["cicd.pipeline.task.run.id", String(id)],
          ["cicd.pipeline.task.run.result", latest === null ? null : TASK_RESULT[latest]],
          ["parsl.task.id", id],
          ["parsl.task.state", latest],
          ["parsl.task.memo_hit", latest === "memo_done" ? true : null],
          ["parsl.task.depends", t["task_depends"]],
          ["parsl.task.hashsum", t["task_hashsum"]],
          ["parsl.task.lineage_hash", t["task_lineage_hash"]],
          ["parsl.task.fail_count", t["task_fail_count"]],
          ["parsl.task.fail_cost", double(t["task_fail_cost"])],
          ["parsl.task.tries", taskTries.length],
        ]),
        events,
        status: failedState
          ? { code: STATUS_ERROR, message: latest === "dep_fail" ? "a dependency failed" : "task failed" }
          : { code: STATUS_UNSET },
      });
      for (const y of taskTries) {
        const tryId = Number(y["try_id"]);
        const tryEvents = events.filter((e) =>
          e.attributes.some(
            (a) => a.key === "parsl.try.id" && "intValue" in a.value && a.value.intValue === String(tryId),
          ),
        );
        const tStart =
          unixNanos(y["task_try_time_launched"]) ??
          unixNanos(y["task_try_time_running"]) ??
          tryEvents[0]?.timeUnixNano ??
          start;
        let tEnd = unixNanos(y["task_try_time_returned"]);
        if (tEnd === null) for (const e of tryEvents) tEnd = maxNs(tEnd, e.timeUnixNano);
        const tryState = tryEvents.length > 0 ? tryEvents[tryEvents.length - 1]!.name : null;
        // Python Parsl keeps only the error's repr (task_fail_history), e.g. "BashExitFailure('app', 3)": its
        // class is read from it here, a bash app's exit code by the readers' rule (ReadContext.exitCodeExpr).
        const history = typeof y["task_fail_history"] === "string" ? y["task_fail_history"] : "";
        const errorType = y["task_try_error_type"] ?? /^([A-Za-z_][\w.]*)\(/.exec(history)?.[1] ?? null;
        const exitCode = y["exit_code"] ?? null;
        const tryFailed =
          (errorType !== null && errorType !== undefined) ||
          tryState === "failed" ||
          tryState === "fail_retryable" ||
          history !== "";
        const executor = y["task_executor"];
        const block = y["block_id"];
        const error = y["task_try_error"] ?? (tryFailed && history !== "" ? history : null);
        spans.push({
          traceId,
          spanId: spanIdOf(runId, "try", id, tryId),
          parentSpanId: taskSpanId,
          name: `${String(app)} try ${tryId}`,
          kind: SPAN_KIND_INTERNAL,
          startTimeUnixNano: tStart,
          endTimeUnixNano: maxNs(tEnd ?? end, tStart)!,
          attributes: attrs([
            ["cicd.pipeline.task.name", app],
            ["cicd.pipeline.task.run.id", `${id}.${tryId}`],
            ["parsl.app", app],
            ["parsl.task.id", id],
            ["parsl.try.id", tryId],
            ["parsl.executor", executor],
            ["host.name", y["hostname"]],
            ["parsl.block.id", block],
            [
              "parsl.job.id",
              block === null || block === undefined ? null : jobs.get(`${String(executor)}/${String(block)}`),
            ],
            ["process.exit.code", exitCode === null ? null : Number(exitCode)],
            ["error.type", tryFailed ? (errorType ?? "_OTHER") : null],
            ["parsl.try.error", error],
            ["parsl.try.state", tryState],
          ]),
          status: tryFailed
            ? { code: STATUS_ERROR, message: String(error ?? errorType ?? "try failed").slice(0, 1000) }
            : { code: STATUS_UNSET },
        });
      }
    }
    await emit(spans);
    if (tasks.length < TASKS_PER_LINE) break;
  }
}

function msToText(ms: number | null): string | null {
  if (ms === null) return null;
  const d = new Date(Math.floor(ms));
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(Math.round((ms - Math.floor(ms / 1000) * 1000) * 1000), 6)}`;
}

function groupBy(rows: Row[]): Map<number, Row[]> {
  const m = new Map<number, Row[]>();
  for (const r of rows) {
    const k = Number(r["task_id"]);
    let g = m.get(k);
    if (!g) m.set(k, (g = []));
    g.push(r);
  }
  return m;
}
