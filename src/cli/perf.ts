/**
 * `parsl-ts perf`: Parsl's parsl-perf for parsl-ts. Runs batches of no-op tasks on a
 * config and prints the task rate per batch.
 *
 *   parsl-ts perf --config my-config.js [--time 120] [--argsize 0] [--iterate estimate|exponential|N,N,…] [--resources JSON]
 *
 * The config module exports `config` (a Config) or `freshConfig()` returning one.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Config } from "../config.js";
import { load } from "../index.js";
import { tsApp } from "../apps/app.js";
import { numberOption, parseArgs, UsageError } from "./args.js";

const perfApp = tsApp(function app(_extra: string) {
  return 7;
});

export type IterateMode = { kind: "estimate" } | { kind: "exponential" } | { kind: "list"; sizes: number[] };

export function parseIterate(s: string): IterateMode {
  if (s === "estimate" || s === "exponential") return { kind: s };
  if (/^\d+(,\d+)*$/.test(s)) {
    const sizes = s.split(",").map(Number);
    if (sizes.every((n) => n > 0)) return { kind: "list", sizes };
  }
  throw new UsageError(`Invalid iteration mode: ${s} (use estimate, exponential, or a list like 10,1000,1000)`);
}

export async function loadConfigModule(file: string): Promise<Config> {
  const url = pathToFileURL(path.resolve(file)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`cannot load config module ${file}: ${(e as Error).message}`);
  }
  const c = typeof mod.freshConfig === "function" ? (mod.freshConfig as () => unknown)() : (mod.config ?? mod.default);
  if (!(c instanceof Config))
    throw new UsageError(`config module ${file} must export \`config\` (a Config) or \`freshConfig()\` returning one`);
  return c;
}

export interface PerfResult {
  iterations: Array<{ tasks: number; submitSeconds: number; seconds: number; tasksPerSecond: number }>;
}

export async function runPerf(
  config: Config,
  opts: { time: number; argsize: number; iterate: IterateMode; resources: Record<string, unknown> },
  print: (line: string) => void = console.log,
): Promise<PerfResult> {
  const dfk = await load(config);
  const extra = "x".repeat(opts.argsize);
  const result: PerfResult = { iterations: [] };
  try {
    let n = opts.iterate.kind === "list" ? opts.iterate.sizes[0]! : 10;
    for (let iteration = 1; ; iteration++) {
      print(`==== Iteration ${iteration} ====`);
      print(`Will run ${n} tasks`);
      const t0 = performance.now();
      const call =
        Object.keys(opts.resources).length > 0 ? perfApp.with({ resourceSpecification: opts.resources }) : perfApp;
      const futures: Array<ReturnType<typeof call>> = [];
      for (let i = 0; i < n; i++) futures.push(call(extra));
      const t1 = performance.now();
      const submit = (t1 - t0) / 1000;
      print(`Submission took ${submit.toFixed(3)} seconds = ${(n / submit).toFixed(3)} tasks/second`);
      for (const f of futures) {
        const v = await f;
        if (v !== 7) throw new Error(`task ${f.taskId} returned ${String(v)}, expected 7`);
      }
      const dt = (performance.now() - t0) / 1000;
      const rate = n / dt;
      print(`Runtime: actual ${dt.toFixed(3)}s vs target ${opts.time}s`);
      print(`Tasks per second: ${rate.toFixed(3)}`);
      result.iterations.push({ tasks: n, submitSeconds: submit, seconds: dt, tasksPerSecond: rate });
      if (opts.iterate.kind === "list") {
        if (iteration >= opts.iterate.sizes.length) break;
        n = opts.iterate.sizes[iteration]!;
      } else if (opts.iterate.kind === "estimate") {
        if (!(dt < 0.75 * opts.time || iteration <= 2)) break;
        n = Math.max(1, Math.floor(opts.time * rate));
      } else {
        if (!(dt < opts.time || iteration <= 2)) break;
        n *= 2;
      }
    }
    print("Tests complete - leaving DFK block");
  } finally {
    await dfk.cleanup();
  }
  print("The end");
  return result;
}

export async function perfCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    { config: "value", time: "value", argsize: "value", iterate: "value", resources: "value", help: "flag" },
    { h: "help" },
  );
  if (p.options.has("help")) {
    console.log(
      "usage: parsl-ts perf --config FILE [--time SECONDS] [--argsize BYTES] [--iterate estimate|exponential|N,N,...] [--resources JSON]",
    );
    return 0;
  }
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument ${p.positionals[0]}`);
  const file = p.options.get("config");
  if (typeof file !== "string")
    throw new UsageError("--config FILE is required (a module exporting `config` or `freshConfig()`)");
  const time = numberOption(p, "time", 120, (n) => n > 0, "a positive number of seconds");
  const argsize = numberOption(p, "argsize", 0, (n) => Number.isInteger(n) && n >= 0, "a whole number of bytes ≥ 0");
  const iterate = parseIterate(String(p.options.get("iterate") ?? "estimate"));
  let resources: Record<string, unknown> = {};
  const r = p.options.get("resources");
  if (typeof r === "string") {
    try {
      resources = JSON.parse(r) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--resources must be a JSON object: ${(e as Error).message}`);
    }
    if (resources === null || typeof resources !== "object" || Array.isArray(resources))
      throw new UsageError("--resources must be a JSON object");
  }
  const config = await loadConfigModule(file);
  await runPerf(config, { time, argsize, iterate, resources });
  return 0;
}
