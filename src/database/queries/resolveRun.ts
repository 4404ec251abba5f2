/**
 * Which run a command means: `RUN` is a run id, a unique prefix of one, or `latest` (the
 * default); `workflow` narrows to runs of that workflow name (its latest run when RUN is
 * `latest`). "Latest" is the run that began last (ties: the larger run id, so the answer is stable).
 */
import { sql } from "../sql.js";
import type { ReadContext } from "./context.js";

export const LATEST = "latest";

/** No run matches, or a prefix matches several: the message says which and how to choose. */
export class RunNotFoundError extends Error {
  override readonly name = "RunNotFoundError";
}

export interface ResolvedRun {
  readonly run_id: string;
  readonly workflow_name: string | null;
}

const MAX_CANDIDATES = 5;

export async function resolveRun(ctx: ReadContext, spec: string = LATEST, workflow?: string): Promise<ResolvedRun> {
  const byName = workflow === undefined ? sql`` : sql` AND workflow_name = ${workflow}`;
  const where = workflow === undefined ? "" : ` of workflow ${JSON.stringify(workflow)}`;
  if (spec === LATEST) {
    const row = await ctx.db.first<ResolvedRun>(sql`SELECT run_id, workflow_name FROM workflow WHERE 1 = 1${byName}
      ORDER BY time_began DESC, run_id DESC LIMIT 1`);
    if (!row) throw new RunNotFoundError(`${ctx.db.location} holds no run${where}`);
    return row;
  }
  if (spec.trim() === "") throw new RunNotFoundError("the run id is empty");
  const exact = await ctx.db.first<ResolvedRun>(
    sql`SELECT run_id, workflow_name FROM workflow WHERE run_id = ${spec}${byName}`,
  );
  if (exact) return exact;
  // A prefix: escape LIKE's wildcards so a run id is matched literally.
  const pattern = spec.replace(/[\\%_]/g, (c) => "\\" + c) + "%";
  const rows = await ctx.db.all<
    ResolvedRun & { time_began: string }
  >(sql`SELECT run_id, workflow_name, time_began FROM workflow
    WHERE run_id LIKE ${pattern} ESCAPE '\\'${byName} ORDER BY time_began DESC, run_id DESC LIMIT ${MAX_CANDIDATES + 1}`);
  if (rows.length === 1) return { run_id: rows[0]!.run_id, workflow_name: rows[0]!.workflow_name };
  if (rows.length === 0)
    throw new RunNotFoundError(`no run${where} has an id starting with ${JSON.stringify(spec)} in ${ctx.db.location}`);
  const list = rows
    .slice(0, MAX_CANDIDATES)
    .map((r) => `${r.run_id} (${r.workflow_name ?? "unnamed"}, began ${r.time_began})`);
  throw new RunNotFoundError(
    `${JSON.stringify(spec)} matches several runs${where}; give more of the id:\n  ${list.join("\n  ")}` +
      (rows.length > MAX_CANDIDATES ? "\n  …" : ""),
  );
}
