/// <reference lib="dom" />
/**
 * The visualizer's browser entry point. Reads which page this is from <body data-*>, fetches the
 * JSON API, draws the page, then polls a cheap "what changed" endpoint and redraws the data in
 * place (no reload) whenever the database changed.
 */
import { h, getJson, tsText, duration, num, bytes, clock } from "./dom.js";
import { stateColor, STATE_ORDER } from "./colors.js";
import { timeChart, histogramChart, ganttChart, stateBar, bytesFmt, type GanttRow } from "./charts.js";
import { taskDag, appDag, appColorMap } from "./dag.js";
// The API's row types, shared with the server (type-only: nothing of it reaches the browser).
import type {
  DagData,
  DagSummary,
  Page,
  ResourceData,
  TaskDetail,
  TaskListItem,
  TimeSeries,
  WorkflowListItem,
  WorkflowSummary,
} from "../../database/queries/types.js";

function sampleNote(k: number | undefined): HTMLElement | null {
  return k && k > 1
    ? h(
        "p",
        { class: "note sample-note" },
        `Estimated from every ${k}th task (scaled ×${k}) to keep this chart fast on a run this large.`,
      )
    : null;
}

const body = document.body;
/** Parts of the page still loading after it became usable (whole-run aggregates). */
const pending: Promise<unknown>[] = [];
const main = document.getElementById("main")!;
const run = body.dataset["run"] ?? "";
const enc = encodeURIComponent;
const api = (path: string): string => `/api/workflows/${enc(run)}${path}`;
const runUrl = (path = ""): string => `/workflow/${enc(run)}/${path}`;
const taskUrl = (id: number): string => runUrl(`task/${id}`);

function statusBadge(status: string, reason: string): HTMLElement {
  return h("span", { class: `status status-${status}`, title: reason }, status);
}

function stateBadge(state: string | null): HTMLElement {
  return h("span", { class: "state", style: `--c:${stateColor(state)}` }, state ?? "unknown");
}

function table(headers: string[], rows: (Node | string | number)[][], cls = "grid"): HTMLTableElement {
  return h(
    "table",
    { class: cls },
    h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c))))),
  );
}

function section(title: string, ...content: (Node | null)[]): HTMLElement {
  return h("section", { class: "card" }, h("h2", {}, title), ...content);
}

function pager(p: { total: number; offset: number; limit: number }, go: (offset: number) => void): HTMLElement {
  const last = Math.max(0, Math.floor((p.total - 1) / p.limit) * p.limit);
  const btn = (label: string, off: number, disabled: boolean): HTMLElement => {
    const b = h("button", { type: "button", disabled, class: "pager-btn" }, label);
    b.addEventListener("click", () => go(off));
    return b;
  };
  return h(
    "div",
    { class: "pager" },
    btn("« first", 0, p.offset === 0),
    btn("‹ previous", Math.max(0, p.offset - p.limit), p.offset === 0),
    h(
      "span",
      {},
      p.total === 0
        ? "no rows"
        : `${num(p.offset + 1)}–${num(Math.min(p.total, p.offset + p.limit))} of ${num(p.total)}`,
    ),
    btn("next ›", p.offset + p.limit, p.offset + p.limit >= p.total),
    btn("last »", last, p.offset >= last),
  );
}

function replace(el: Element, ...children: (Node | null)[]): void {
  el.replaceChildren(...children.filter((c): c is Node => c !== null));
}

function errorBox(e: unknown): HTMLElement {
  return h("p", { class: "error-box" }, e instanceof Error ? e.message : String(e));
}

function workflowFacts(w: WorkflowListItem & { rundir?: string }): HTMLElement {
  const dl = h("dl", { class: "facts" });
  const add = (k: string, v: Node | string): void => {
    dl.append(h("dt", {}, k), h("dd", {}, v));
  };
  add("Workflow", h("a", { href: runUrl() }, w.workflow_name ?? "(unnamed)"));
  add("Run id", h("code", {}, w.run_id));
  add("Status", statusBadge(w.status, w.status_reason));
  add("Started", tsText(w.time_began));
  add("Completed", w.time_completed ? tsText(w.time_completed) : "–");
  add("Duration", duration(w.runtime_s));
  add("Owner", `${w.user}@${w.host}`);
  if (w.rundir) add("Run directory", h("code", {}, w.rundir));
  add("Tasks", taskCounts(w));
  return dl;
}

/** Completed (exec_done), memo hits (memo_done) and failed tasks, as badges. */
function taskCounts(w: WorkflowListItem): HTMLElement {
  return h(
    "span",
    { class: "task-counts" },
    h("span", { class: "task task-complete", title: "completed (exec_done)" }, String(w.tasks_completed_count)),
    " ",
    h("span", { class: "task task-memo", title: "memo hits (memo_done)" }, String(w.tasks_memo_count)),
    " ",
    h("span", { class: "task task-failed", title: "failed" }, String(w.tasks_failed_count)),
  );
}

function runLinks(): HTMLElement {
  return h(
    "nav",
    { class: "run-links" },
    h("a", { href: runUrl() }, "Summary"),
    h("a", { href: runUrl("task/") }, "All tasks"),
    h("a", { href: runUrl("dag_group_by_apps") }, "DAG by app"),
    h("a", { href: runUrl("dag_group_by_states") }, "DAG by state"),
    h("a", { href: runUrl("resource_usage") }, "Resource usage"),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Pages. Each returns a refresh function that redraws its data in place.

async function workflowsPage(): Promise<() => Promise<void>> {
  document.title = "Workflows · Parsl Monitoring Interface";
  const holder = h("div");
  let offset = 0;
  replace(main, h("h1", {}, "Workflows"), holder);
  const load = async (): Promise<void> => {
    const data = await getJson<Page<WorkflowListItem>>(`/api/workflows?offset=${offset}&limit=50`);
    const rows = data.rows.map((w) => [
      h("a", { href: `/workflow/${enc(w.run_id)}/`, class: "wf-link" }, w.workflow_name ?? "(unnamed)"),
      w.workflow_version ?? "–",
      w.user,
      statusBadge(w.status, w.status_reason),
      tsText(w.time_began),
      duration(w.runtime_s),
      taskCounts(w),
    ]);
    replace(
      holder,
      data.total === 0
        ? h("p", { class: "empty" }, "This database has no workflows yet.")
        : table(["Name", "Version", "Owner", "Status", "Started", "Runtime", "Tasks"], rows, "grid workflows"),
      data.total > data.limit
        ? pager(data, (o) => {
            offset = o;
            void load();
          })
        : null,
    );
  };
  await load();
  return load;
}

async function workflowPage(): Promise<() => Promise<void>> {
  const top = h("div", { class: "two-col" });
  const ganttBox = h("div");
  const triesBox = h("div");
  const historyBox = h("div");
  const ganttCtl = h("form", { class: "controls", id: "gantt-controls" });
  replace(
    main,
    h("h1", { id: "page-title" }, "Workflow"),
    runLinks(),
    top,
    section("Task Gantt chart", ganttCtl, ganttBox),
    section("Execution tries per app", triesBox),
    section("App durations across runs of this workflow", historyBox),
  );
  let from: number | null = null;
  let to: number | null = null;
  const drawGantt = async (): Promise<void> => {
    const q = new URLSearchParams({ rows: "300" });
    if (from !== null) q.set("from", String(from));
    if (to !== null) q.set("to", String(to));
    const g = await getJson<{
      task_min: number;
      task_max: number;
      from: number;
      to: number;
      step: number;
      rows: GanttRow[];
    }>(api(`/gantt?${q}`));
    const note =
      g.step > 1
        ? `Showing every ${g.step}th task of ${num(g.from)}–${num(g.to)} (${g.rows.length} rows); narrow the range to see every task.`
        : `Showing tasks ${num(g.from)}–${num(g.to)}.`;
    replace(
      ganttBox,
      h("p", { class: "note", id: "gantt-note" }, note),
      ganttChart({ title: "Task states over time", rows: g.rows, href: taskUrl }),
    );
    (ganttCtl.querySelector("[name=from]") as HTMLInputElement).value = String(g.from);
    (ganttCtl.querySelector("[name=to]") as HTMLInputElement).value = String(g.to);
  };
  const inFrom = h("input", { name: "from", type: "number", min: 0, size: 8 });
  const inTo = h("input", { name: "to", type: "number", min: 0, size: 8 });
  const whole = h("button", { type: "button" }, "Whole run");
  ganttCtl.append(
    h("label", {}, "Task ids from ", inFrom),
    h("label", {}, " to ", inTo),
    h("button", { type: "submit" }, "Show"),
    whole,
  );
  ganttCtl.addEventListener("submit", (ev) => {
    ev.preventDefault();
    from = inFrom.value === "" ? null : Math.max(0, Math.floor(Number(inFrom.value)));
    to = inTo.value === "" ? null : Math.max(0, Math.floor(Number(inTo.value)));
    if (from !== null && to !== null && to < from) [from, to] = [to, from];
    void drawGantt().catch((e) => replace(ganttBox, errorBox(e)));
  });
  whole.addEventListener("click", () => {
    from = null;
    to = null;
    void drawGantt();
  });
  const load = async (): Promise<void> => {
    const sum = await getJson<WorkflowSummary>(api(""));
    const w = sum.workflow;
    document.title = `${w.workflow_name ?? "Workflow"} · Parsl Monitoring Interface`;
    (document.getElementById("page-title") as HTMLElement).textContent = `Workflow ${w.workflow_name ?? "(unnamed)"}`;
    const states = STATE_ORDER.filter((st) => sum.state_counts[st]).concat(
      Object.keys(sum.state_counts).filter((k) => !STATE_ORDER.includes(k)),
    );
    replace(
      top,
      section(
        "Workflow summary",
        workflowFacts({ ...w }),
        h("p", {}, `${num(sum.task_count)} tasks by latest state:`),
        stateBar(sum.state_counts),
        h(
          "ul",
          { class: "state-list" },
          ...states.map((st) => h("li", {}, stateBadge(st), ` ${num(sum.state_counts[st] ?? 0)}`)),
        ),
      ),
      section(
        "App summary",
        table(
          ["Name", "Tasks"],
          sum.apps.map((a) => [
            h("a", { href: runUrl(`app/${enc(a.name)}`), class: "app-link" }, a.name),
            num(a.count),
          ]),
          "grid apps",
        ),
      ),
    );
    const drawTries = async (): Promise<void> => {
      const tries = await getJson<TimeSeries>(api("/tries"));
      const colors = appColorMap(tries.series.filter((x) => x.name !== "All").map((x) => x.name));
      replace(
        triesBox,
        timeChart({
          title: "Execution tries per app",
          yLabel: "Tries running (mean per bucket)",
          startMs: tries.start_ms,
          bucketS: tries.bucket_s,
          series: tries.series.map((x) => ({
            name: x.name,
            values: x.values,
            color: x.name === "All" ? "#222" : (colors.get(x.name) ?? "#999"),
            dashed: x.name === "All",
          })),
        }),
        sampleNote(tries.sample_step),
      );
    };
    const drawHistory = async (): Promise<void> => {
      const hist = await getJson<{
        runs: { run_id: string; time_began: string; apps: Record<string, { count: number; mean_s: number | null }> }[];
      }>(api("/history"));
      const apps = [...new Set(hist.runs.flatMap((r) => Object.keys(r.apps)))].sort();
      replace(
        historyBox,
        hist.runs.length < 2
          ? h(
              "p",
              { class: "note" },
              "Only one run with this workflow name; mean app durations per run appear here when there are more.",
            )
          : table(
              [
                "App",
                ...hist.runs.map((r) =>
                  r.run_id === run ? `${tsText(r.time_began)} (this run)` : tsText(r.time_began),
                ),
              ],
              apps.map((a) => [
                h("a", { href: runUrl(`app/${enc(a)}`) }, a),
                ...hist.runs.map((r) => {
                  const v = r.apps[a];
                  return v ? `${duration(v.mean_s)} (${num(v.count)})` : "–";
                }),
              ]),
              "grid history",
            ),
        h("p", { class: "note" }, "Mean task duration (invoked → returned) and task count per app."),
      );
    };
    // Whole-run aggregates can take a while on huge runs: they fill in when ready.
    if (!triesBox.hasChildNodes()) triesBox.append(h("p", { class: "note computing" }, "Computing…"));
    if (!historyBox.hasChildNodes()) historyBox.append(h("p", { class: "note computing" }, "Computing…"));
    const later = Promise.all([
      drawTries().catch((e) => replace(triesBox, errorBox(e))),
      drawHistory().catch((e) => replace(historyBox, errorBox(e))),
    ]);
    await drawGantt();
    pending.push(later);
  };
  await load();
  return load;
}

async function tasksPage(): Promise<() => Promise<void>> {
  const app = body.dataset["app"];
  const title = app ? `App ${app}` : "All apps";
  document.title = `${title} · Parsl Monitoring Interface`;
  const factsBox = h("div");
  const listBox = h("div");
  const stateSel = h(
    "select",
    { name: "state" },
    h("option", { value: "" }, "any state"),
    ...STATE_ORDER.map((st) => h("option", { value: st }, st)),
  );
  let offset = 0;
  replace(
    main,
    h("h1", {}, title),
    runLinks(),
    factsBox,
    section(
      app ? `Tasks of ${app}` : "All tasks",
      h("div", { class: "controls" }, h("label", {}, "Latest state: ", stateSel)),
      listBox,
    ),
  );
  stateSel.addEventListener("change", () => {
    offset = 0;
    void load();
  });
  const load = async (): Promise<void> => {
    const sum = await getJson<WorkflowSummary>(api(""));
    replace(factsBox, section("Workflow", workflowFacts(sum.workflow)));
    const q = new URLSearchParams({ offset: String(offset), limit: "100" });
    if (app) q.set("app", app);
    if (stateSel.value) q.set("state", stateSel.value);
    const data = await getJson<Page<TaskListItem>>(api(`/tasks?${q}`));
    const depLinks = (d: number[]): Node =>
      d.length === 0
        ? document.createTextNode("None")
        : h("span", {}, ...d.flatMap((id, i) => [i ? ", " : "", h("a", { href: taskUrl(id) }, String(id))]));
    const go = (o: number): void => {
      offset = o;
      void load();
    };
    replace(
      listBox,
      data.total > data.limit ? pager(data, go) : null,
      table(
        ["Name", "Task ID", "State", "Dependencies", "Invoked", "Completed", "Failures"],
        data.rows.map((t) => [
          h("a", { href: runUrl(`app/${enc(t.task_func_name)}`) }, t.task_func_name),
          h("a", { href: taskUrl(t.task_id), class: "task-link" }, String(t.task_id)),
          stateBadge(t.state),
          depLinks(t.task_depends),
          tsText(t.task_time_invoked),
          tsText(t.task_time_returned),
          String(t.task_fail_count),
        ]),
        "grid tasks",
      ),
      pager(data, go),
    );
  };
  await load();
  return load;
}

/** The task's computation in every run (same hashsum): where it ran, how it ended, memo hits. */
function historySection(
  hist: {
    hashsum: string | null;
    runs: {
      run_id: string;
      workflow_name: string | null;
      time_began: string;
      task_id: number;
      state: string | null;
      memo: boolean;
      total_s: number | null;
    }[];
  },
  id: number,
): Node {
  if (hist.hashsum === null)
    return section(
      "History across runs",
      h(
        "p",
        { class: "empty" },
        "This task has no hashsum (its app is not memoized), so it cannot be matched across runs.",
      ),
    );
  const rows = hist.runs.map((r) => {
    const here = r.run_id === run && r.task_id === id;
    return [
      here
        ? h("strong", {}, "this task")
        : h("a", { href: `/workflow/${enc(r.run_id)}/task/${r.task_id}` }, `${r.run_id.slice(0, 8)} · ${r.task_id}`),
      r.workflow_name ?? "",
      r.time_began.slice(0, 19),
      stateBadge(r.state),
      r.memo ? "memo hit" : "",
      r.total_s === null ? "" : `${r.total_s.toFixed(3)} s`,
    ];
  });
  return section(
    "History across runs",
    h(
      "p",
      { class: "note" },
      "Tasks with the same hashsum ",
      h("code", {}, hist.hashsum),
      " in every run (oldest first).",
    ),
    table(["Run · task", "Workflow", "Run began", "State", "Memo", "Duration"], rows, "grid history"),
  );
}

async function taskPage(): Promise<() => Promise<void>> {
  const id = Number(body.dataset["task"]);
  const load = async (): Promise<void> => {
    const d = await getJson<TaskDetail>(api(`/tasks/${id}`));
    const t = d.task;
    document.title = `${String(t["task_func_name"])} (${id}) · Parsl Monitoring Interface`;
    const fields = Object.entries(t).map(([k, v]) => {
      let cell: Node | string = v === null ? "NULL" : String(v);
      if (k === "task_depends" && typeof v === "string" && v !== "") {
        cell = h(
          "span",
          {},
          ...v.split(",").flatMap((x, i) => [i ? ", " : "", h("a", { href: taskUrl(Number(x)) }, x.trim())]),
        );
      }
      if (k === "task_func_name") cell = h("a", { href: runUrl(`app/${enc(String(v))}`) }, String(v));
      return [h("code", {}, k), cell];
    });
    const tryCols = d.tries.length ? Object.keys(d.tries[0]!).filter((k) => k !== "run_id" && k !== "task_id") : [];
    const mem = d.memory;
    let memChart: Node;
    if (mem.length === 0)
      memChart = h(
        "p",
        { class: "empty" },
        "No resource samples for this task (thread-pool tasks and unmonitored runs have none).",
      );
    else {
      // Plot on an even grid of the samples (they are already time-ordered).
      const t0 = mem[0]!.t;
      const span = Math.max(1, mem[mem.length - 1]!.t - t0);
      const n = Math.min(300, Math.max(2, mem.length));
      const step = span / (n - 1);
      const rss = new Array<number>(n).fill(0);
      let j = 0;
      for (let i = 0; i < n; i++) {
        const at = t0 + i * step;
        while (j + 1 < mem.length && mem[j + 1]!.t <= at) j++;
        rss[i] = mem[j]!.rss / 1e9;
      }
      memChart = timeChart({
        title: "Memory usage",
        yLabel: "Memory usage (GB)",
        startMs: t0,
        bucketS: +(step / 1000).toFixed(3) || 0.001,
        series: [{ name: "Resident memory", values: rss, color: "#636efa", fill: true }],
        yFmt: (v) => `${v.toFixed(3)} GB`,
      });
    }
    replace(
      main,
      h("h1", {}, `${String(t["task_func_name"])} (${id}) `, stateBadge(d.state)),
      runLinks(),
      h(
        "div",
        { class: "two-col" },
        section("Task", table(["Field", "Value"], fields, "grid fields")),
        section(
          "Task state",
          table(
            ["Time", "State", "Try"],
            d.states.map((s) => [s.timestamp.slice(0, 23), stateBadge(s.task_status_name), String(s.try_id)]),
            "grid states",
          ),
          d.dependents.length
            ? h(
                "p",
                {},
                "Dependent tasks: ",
                ...d.dependents.flatMap((x, i) => [i ? ", " : "", h("a", { href: taskUrl(x) }, String(x))]),
              )
            : null,
        ),
      ),
      historySection(d.history, id),
      section(
        "Tries",
        table(
          tryCols,
          d.tries.map((r) => tryCols.map((k) => (r[k] === null ? "NULL" : String(r[k])))),
          "grid tries",
        ),
      ),
      section(
        "Memory usage",
        memChart,
        d.memory_sampled ? h("p", { class: "note" }, "Downsampled to 2,000 samples.") : null,
      ),
    );
  };
  await load();
  return load;
}

async function dagPage(): Promise<() => Promise<void>> {
  const group = body.dataset["group"] === "states" ? "states" : "apps";
  document.title = `DAG by ${group === "states" ? "state" : "app"} · Parsl Monitoring Interface`;
  const aggBox = h("div");
  const winBox = h("div");
  const ctl = h("form", { class: "controls" });
  const inFrom = h("input", { name: "from", type: "number", min: 0, value: 0, size: 8 });
  const inLimit = h(
    "select",
    { name: "limit" },
    ...[100, 300, 1000].map((n) => h("option", { value: n, selected: n === 300 }, `${n} tasks`)),
  );
  const prev = h("button", { type: "button" }, "‹ earlier");
  const next = h("button", { type: "button" }, "later ›");
  ctl.append(
    h("label", {}, "Tasks from id ", inFrom),
    " ",
    inLimit,
    h("button", { type: "submit" }, "Show"),
    prev,
    next,
  );
  replace(
    main,
    h("h1", {}, `Workflow DAG, grouped by ${group === "states" ? "state" : "app"}`),
    runLinks(),
    section(group === "states" ? "Tasks per latest state" : "App graph (aggregated)", aggBox),
    section("Task graph", ctl, winBox),
  );
  let from = 0;
  const limit = (): number => Number(inLimit.value);
  ctl.addEventListener("submit", (ev) => {
    ev.preventDefault();
    from = Math.max(0, Math.floor(Number(inFrom.value) || 0));
    void load();
  });
  prev.addEventListener("click", () => {
    from = Math.max(0, from - limit());
    inFrom.value = String(from);
    void load();
  });
  next.addEventListener("click", () => {
    from += limit();
    inFrom.value = String(from);
    void load();
  });
  let colors = new Map<string, string>();
  const drawSummary = (d: DagSummary): void => {
    colors = appColorMap(d.apps.map((a) => a.name));
    if (group === "apps") {
      replace(
        aggBox,
        appDag({ apps: d.apps, edges: d.app_edges, appColors: colors, href: (a) => runUrl(`app/${enc(a)}`) }),
        h(
          "p",
          { class: "note" },
          `Each box is an app (task count, and its tasks' latest states); arrows are task dependencies between apps` +
            (d.edges_from_tasks >= 20000
              ? `, counted over the first ${num(d.edges_from_tasks)} tasks that have dependencies.`
              : "."),
        ),
      );
    } else {
      const counts: Record<string, number> = {};
      for (const a of d.apps) for (const [st, n] of Object.entries(a.states)) counts[st] = (counts[st] ?? 0) + n;
      replace(
        aggBox,
        stateBar(counts),
        h(
          "ul",
          { class: "state-list" },
          ...Object.entries(counts).map(([st, n]) => h("li", {}, stateBadge(st), ` ${num(n)}`)),
        ),
      );
    }
  };
  let taskCount: number | null = null;
  const drawWindow = (win: DagData["window"]): void => {
    if (colors.size === 0) colors = appColorMap([...new Set(win.nodes.map((n) => n.app))]);
    const inWin = win.nodes.filter((n) => !n.outside);
    replace(
      winBox,
      h(
        "p",
        { class: "note", id: "dag-note" },
        inWin.length === 0
          ? "No tasks from this id on."
          : `Tasks ${num(inWin[0]!.id)}–${num(inWin[inWin.length - 1]!.id)}${taskCount !== null ? ` of ${num(taskCount)}` : ""}; dashed nodes are dependencies outside the window. Click a node for its task page.`,
      ),
      taskDag({ nodes: win.nodes, edges: win.edges, colorBy: group, appColors: colors, href: taskUrl }),
    );
  };
  const load = async (): Promise<void> => {
    if (!aggBox.hasChildNodes()) aggBox.append(h("p", { class: "note computing" }, "Computing…"));
    const summary = getJson<DagSummary>(api("/dag_summary"));
    const win = await getJson<DagData["window"]>(api(`/dag_window?from=${from}&limit=${limit()}`));
    // Draw the window at once; redraw it with the run-wide app colours when the summary arrives.
    drawWindow(win);
    pending.push(
      summary
        .then((d) => {
          taskCount = d.task_count;
          drawSummary(d);
          drawWindow(win);
        })
        .catch((e) => replace(aggBox, errorBox(e))),
    );
  };
  await load();
  return load;
}

async function resourcesPage(): Promise<() => Promise<void>> {
  document.title = "Resource usage · Parsl Monitoring Interface";
  const load = async (): Promise<void> => {
    const r = await getJson<ResourceData>(api("/resources"));
    const flat = (ts: TimeSeries, v: number): number[] =>
      new Array<number>(Math.max(1, ts.series[0]?.values.length ?? 0)).fill(v);
    const withTotal = (
      ts: TimeSeries,
      name: string,
      total: number,
      color: string,
    ): { name: string; values: number[]; color: string; dashed?: boolean; fill?: boolean }[] =>
      ts.series.length === 0
        ? []
        : [
            ...ts.series.map((x) => ({ ...x, color, fill: true })),
            ...(total > 0 ? [{ name, values: flat(ts, total), color: "#c00", dashed: true }] : []),
          ];
    replace(
      main,
      h("h1", {}, "Resource usage"),
      runLinks(),
      sampleNote(r.sample_step),
      r.has_resources
        ? null
        : h(
            "p",
            { class: "error-box", id: "no-resources" },
            `Workflow ${run} does not have any resource usage records (thread-pool tasks are never sampled); worker usage below comes from the try table.`,
          ),
      section(
        "Worker usage",
        timeChart({
          title: "Worker efficiency (busy = tries running, mean per bucket)",
          yLabel: "Number of workers",
          startMs: r.workers.start_ms,
          bucketS: r.workers.bucket_s,
          series: withTotal(r.workers, "Workers registered (HTEX node records)", r.workers.total_workers, "#636efa"),
        }),
      ),
      section(
        "CPU usage",
        timeChart({
          title: "CPU usage",
          yLabel: "Number of CPU cores",
          startMs: r.cpu.start_ms,
          bucketS: r.cpu.bucket_s,
          series: withTotal(r.cpu, "Total CPU cores", r.cpu.total_cores, "#00a070"),
        }),
        histogramChart({
          title: r.cpu_time_max.label,
          xLabel: r.cpu_time_max.x_label,
          edges: r.cpu_time_max.edges,
          counts: r.cpu_time_max.counts,
          color: "#00a070",
        }),
      ),
      section(
        "Memory usage",
        timeChart({
          title: "Memory usage",
          yLabel: "Memory (GiB)",
          startMs: r.memory.start_ms,
          bucketS: r.memory.bucket_s,
          series: withTotal(r.memory, "Total memory", r.memory.total_memory_gib, "#ab63fa"),
          yFmt: (v) => `${v.toFixed(2)} GiB`,
        }),
        h(
          "div",
          { class: "two-col" },
          histogramChart({
            title: r.memory_avg.label,
            xLabel: "Resident memory",
            edges: r.memory_avg.edges,
            counts: r.memory_avg.counts,
            xFmt: bytesFmt,
            color: "#ab63fa",
            width: 600,
          }),
          histogramChart({
            title: r.memory_max.label,
            xLabel: "Resident memory",
            edges: r.memory_max.edges,
            counts: r.memory_max.counts,
            xFmt: bytesFmt,
            color: "#ab63fa",
            width: 600,
          }),
        ),
      ),
      section(
        "Nodes (worker managers)",
        r.nodes.length === 0
          ? h("p", { class: "empty" }, "No node records (thread pools have none).")
          : table(
              ["Host", "Manager uid", "Block", "CPU cores", "Memory", "Workers", "First seen", "Last seen", "Events"],
              r.nodes.map((n) => [
                String(n["hostname"]),
                h("code", {}, String(n["uid"])),
                String(n["block_id"]),
                String(n["cpu_count"]),
                bytes(Number(n["total_memory"])),
                String(n["worker_count"]),
                tsText(n["first_seen"] as string),
                tsText(n["last_seen"] as string),
                String(n["events"]),
              ]),
            ),
      ),
      section(
        "Blocks",
        r.blocks.length === 0
          ? h("p", { class: "empty" }, "No block records.")
          : table(
              ["Executor", "Block", "Job id", "Time", "Status"],
              r.blocks.map((b) => [
                String(b["executor_label"]),
                String(b["block_id"]),
                String(b["job_id"] ?? "–"),
                tsText(b["timestamp"] as string),
                String(b["status"]),
              ]),
            ),
      ),
    );
  };
  await load();
  return load;
}

// ---------------------------------------------------------------------------------------------------------------
// Live updates: poll the change token; redraw the page's data when it moves.

function startLive(refresh: () => Promise<void>): void {
  const live = document.getElementById("live");
  const url = run ? api("/changes") : "/api/changes";
  let token: string | null = null;
  let busy = false;
  // The server may answer a slow aggregate from a result up to 10 s old while data keeps changing;
  // one more refresh after the changes stop makes the final picture exact.
  let settleAt: number | null = null;
  const redraw = async (): Promise<void> => {
    await refresh();
    if (live) live.textContent = `updated ${clock(Date.now() - new Date().getTimezoneOffset() * 60000)}`;
    body.dataset["updates"] = String(Number(body.dataset["updates"] ?? "0") + 1);
  };
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const c = await getJson<{ token: string; status?: string }>(url);
      if (token !== null && c.token !== token) {
        await redraw();
        settleAt = Date.now() + 12_000;
      } else if (settleAt !== null && Date.now() >= settleAt) {
        settleAt = null;
        await redraw();
      }
      token = c.token;
      if (live && c.status) live.className = `live live-${c.status}`;
    } catch {
      if (live) live.textContent = "server unreachable";
    } finally {
      busy = false;
    }
  };
  void tick();
  setInterval(() => void tick(), 2000);
}

async function boot(): Promise<void> {
  const pages: Record<string, () => Promise<() => Promise<void>>> = {
    workflows: workflowsPage,
    workflow: workflowPage,
    tasks: tasksPage,
    task: taskPage,
    dag: dagPage,
    resources: resourcesPage,
  };
  const page = pages[body.dataset["page"] ?? ""];
  if (!page) return;
  try {
    const refresh = await page();
    body.dataset["ready"] = "1";
    void Promise.allSettled(pending).then(() => {
      body.dataset["complete"] = "1";
    });
    startLive(refresh);
  } catch (e) {
    replace(main, h("h1", {}, "Error"), errorBox(e));
    body.dataset["ready"] = "error";
  }
}

void boot();
