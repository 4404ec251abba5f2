/**
 * `parsl-ts analyze [RUN]`: the pegasus-analyzer view (database/queries/analyze.ts): counts, the
 * root failures with every try's evidence, dep_fail cascades as one entry per root. Exit status 1
 * when the run failed (a task ended failed or dep_fail, or the run's status is failed), else 0.
 */
import {
  DEFAULT_FAILURES_SHOWN,
  type FailedTry,
  type RootFailure,
  type RunAnalysis,
} from "../database/queries/analyze.js";
import { EXIT, numberOption, parseArgs, UsageError } from "./args.js";
import { parseFormat, renderRows, type Format } from "./output.js";
import { chooseRun, openQueryDb } from "./queryCommon.js";
import { round6, seconds } from "./queryDb.js";

export const ANALYZE_USAGE = `usage: parsl-ts analyze [RUN] [--db ENDPOINT] [--workflow NAME] [--limit N] [--format table|json|csv|tsv]

What failed in a run (RUN: a run id, a unique prefix of one, or latest; default latest): counts,
failures by app and error type, then the root failures (most dependents first; --limit N shown,
default ${DEFAULT_FAILURES_SHOWN}) with every try's host, block, job id, exit code, error and stderr
tail, and the dep_fail tasks under each. Exit status 1 when the run failed, 0 when nothing failed.`;

/** Lines of a stderr tail shown in the text view. */
const TAIL_LINES = 5;

export async function analyzeCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    { db: "value", workflow: "value", limit: "value", format: "value", help: "flag" },
    { h: "help" },
  );
  if (p.options.has("help")) {
    console.log(ANALYZE_USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length > 1)
    throw new UsageError(`analyze takes one RUN, got ${p.positionals.length}: ${p.positionals.join(" ")}`);
  const format = parseFormat(p.options.get("format"));
  const limit = numberOption(
    p,
    "limit",
    DEFAULT_FAILURES_SHOWN,
    (n) => Number.isInteger(n) && n >= 0,
    "a non-negative integer",
  );
  const db = await openQueryDb(p.options.get("db"), "parsl-ts analyze");
  try {
    const run = await chooseRun(db, p.positionals[0], p.options.get("workflow"));
    const a = await db.analyzeRun(run.run_id, { limit });
    process.stdout.write(renderAnalysis(a, format));
    return runFailed(a) ? EXIT.failed : EXIT.ok;
  } finally {
    await db.close();
  }
}

export function runFailed(a: RunAnalysis): boolean {
  return a.tasks.failed > 0 || a.tasks.dep_fail > 0 || a.run.status === "failed";
}

const lastTry = (f: RootFailure): FailedTry | undefined => f.tries.filter((t) => t.failed).at(-1) ?? f.tries.at(-1);

export function renderAnalysis(a: RunAnalysis, format: Format): string {
  if (format === "json") return JSON.stringify(a, null, 2) + "\n";
  if (format !== "table") {
    return renderRows(
      a.failures,
      [
        { key: "task_id", value: (f) => f.task_id },
        { key: "app", value: (f) => f.app },
        { key: "tries", value: (f) => f.tries_total },
        { key: "dependents", value: (f) => f.dependents.count },
        { key: "dependent_apps", value: (f) => f.dependents.apps.map((x) => `${x.app}:${x.count}`).join(" ") },
        { key: "host", value: (f) => lastTry(f)?.host ?? null },
        { key: "job_id", value: (f) => lastTry(f)?.job_id ?? null },
        { key: "exit_code", value: (f) => lastTry(f)?.exit_code ?? null },
        { key: "error_type", value: (f) => lastTry(f)?.error_type ?? null },
        { key: "error", value: (f) => lastTry(f)?.error ?? null },
        { key: "run_s", value: (f) => round6(lastTry(f)?.run_s ?? null) },
      ],
      format,
    );
  }
  const r = a.run;
  const T = a.tasks;
  const out = [
    `run       ${r.run_id}  ${r.workflow_name ?? "(unnamed)"}  ${r.status}${r.status_reason ? ` (${r.status_reason})` : ""}`,
    `tasks     ${T.total} total: ${T.succeeded} succeeded, ${T.failed} failed, ${T.dep_fail} dep_fail, ${T.memo} memo, ${T.unfinished} unfinished; ${T.retried} retried`,
  ];
  const lost = a.unexplained_dep_fail;
  if (a.roots_total === 0 && lost.count === 0) {
    out.push("", T.unfinished > 0 ? `no task failed (${T.unfinished} unfinished)` : "no task failed");
    return out.join("\n") + "\n";
  }
  const under = T.dep_fail - lost.count;
  out.push(
    "",
    `${a.roots_total} root failure${a.roots_total === 1 ? "" : "s"} (failed tasks)` +
      `${under > 0 ? `; ${under} dep_fail task${under === 1 ? "" : "s"} under them` : ""}`,
  );
  if (lost.count > 0) {
    out.push(
      `${lost.count} dep_fail task${lost.count === 1 ? "" : "s"} with no failed dependency recorded: ` +
        `${lost.apps
          .slice(0, 5)
          .map((x) => `${x.app} ×${x.count}`)
          .join(
            ", ",
          )}${lost.apps.length > 5 ? ", …" : ""}  [${lost.first_ids.join(", ")}${lost.count > lost.first_ids.length ? ", …" : ""}]`,
    );
  }
  if (a.kinds.length > 0) {
    out.push("", "failed tasks by app and error type:");
    const shown = a.kinds.slice(0, 10);
    const appWidth = Math.max(...shown.map((k) => k.app.length));
    for (const k of shown)
      out.push(
        `  ${String(k.count).padStart(6)}  ${k.app.padEnd(appWidth)}  ${k.error_type ?? "(error type not recorded)"}`,
      );
    if (a.kinds.length > 10) out.push(`  … and ${a.kinds.length - 10} more kinds`);
  }
  a.failures.forEach((f, i) => {
    out.push(
      "",
      `[${i + 1}] task ${f.task_id}  ${f.app}  failed after ${f.tries_total} ${f.tries_total === 1 ? "try" : "tries"}`,
    );
    if (f.dependents.count > 0) {
      const apps = f.dependents.apps.map((x) => `${x.app} ×${x.count}`).join(", ");
      const ids = f.dependents.first_ids.join(", ") + (f.dependents.count > f.dependents.first_ids.length ? ", …" : "");
      out.push(
        `    ${f.dependents.count} dependent task${f.dependents.count === 1 ? "" : "s"} failed with it (dep_fail): ${apps}  [${ids}]`,
      );
    }
    if (f.args !== null) out.push(`    args    ${f.args}`);
    if (f.inputs !== null) out.push(`    inputs  ${f.inputs}`);
    if (f.stdout !== null || f.stderr !== null)
      out.push(`    stdout  ${f.stdout ?? "-"}`, `    stderr  ${f.stderr ?? "-"}`);
    if (f.tries_total > f.tries.length)
      out.push(`    (${f.tries_total - f.tries.length} of ${f.tries_total} tries not shown)`);
    for (const t of f.tries) {
      const where = [
        t.executor,
        t.host !== null ? `host ${t.host}` : null,
        t.block_id !== null ? `block ${t.block_id}` : null,
        t.job_id !== null ? `job ${t.job_id}` : null,
        t.exit_code !== null ? `exit ${t.exit_code}` : null,
        t.run_s !== null ? `ran ${seconds(t.run_s)}` : "did not run",
      ]
        .filter((x) => x !== null)
        .join("  ");
      out.push(`    try ${t.try_id}  ${where}${t.failed ? "" : "  (did not fail)"}`);
      if (t.failed) {
        const err = (t.error ?? "").split("\n")[0]!.slice(0, 300);
        // parsl-ts errors start with their type already; Python Parsl's reprs do too (ValueError('…')).
        const type = t.error_type ?? "error";
        out.push(`      ${err.startsWith(type) ? err : `${type}${err ? `: ${err}` : ""}`}`);
      }
      if (t.stderr_tail !== null) {
        const lines = t.stderr_tail.trimEnd().split("\n");
        out.push(
          `      stderr (last ${Math.min(TAIL_LINES, lines.length)} lines):`,
          ...lines.slice(-TAIL_LINES).map((l) => `        | ${l}`),
        );
      }
    }
  });
  const more = a.roots_total - a.failures.length;
  if (more > 0)
    out.push("", `… and ${more} more root failure${more === 1 ? "" : "s"} (--limit ${a.roots_total} shows all)`);
  if (a.dep_fail_multi_root > 0)
    out.push("", `${a.dep_fail_multi_root} dep_fail tasks depend on several root failures and are counted under each`);
  return out.join("\n") + "\n";
}
