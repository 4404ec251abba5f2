/**
 * `parsl-ts export` on a synthetic 1,000,000-task run (bench/visualizer.ts's generator): the real
 * CLI in a child process per format, timed, with its peak RSS (read by a preloaded hook at exit,
 * so no outside tool is needed). Bounded memory shows as an RSS that does not grow with the run.
 *
 *   node dist/bench/export.js [TASKS]
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createSyntheticDb } from "./visualizer.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, "..", "src", "cli", "parsl-ts.cjs");
const FORMATS = ["csv", "jsonl", "parquet", "otlp"] as const;

export interface ExportBenchRow {
  format: string;
  seconds: number;
  peakRssMiB: number;
  rows: number;
  bytes: number;
  rowsPerSecond: number;
}

export interface ExportBenchResult {
  tasks: number;
  dbRows: number;
  dbBytes: number;
  generateSeconds: number;
  formats: ExportBenchRow[];
}

export async function benchExport(opts: {
  tasks: number;
  dir?: string;
  print?: (s: string) => void;
}): Promise<ExportBenchResult> {
  const print = opts.print ?? console.log;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "export-bench-"));
  const own = opts.dir === undefined;
  try {
    const db = path.join(dir, "monitoring.db");
    const t0 = performance.now();
    createSyntheticDb(db, { tasks: opts.tasks });
    const generateSeconds = (performance.now() - t0) / 1000;
    const hook = path.join(dir, "maxrss.cjs");
    fs.writeFileSync(
      hook,
      `process.on("exit", () => process.stderr.write("MAXRSS_KB " + process.resourceUsage().maxRSS + "\\n"));\n`,
    );
    const formats: ExportBenchRow[] = [];
    let dbRows = 0;
    for (const format of FORMATS) {
      const out = path.join(dir, `out-${format}`);
      const start = performance.now();
      const r = spawnSync(
        process.execPath,
        ["--require", hook, CLI, "export", "--db", db, "--format", format, "-o", out],
        { encoding: "utf8" },
      );
      const seconds = (performance.now() - start) / 1000;
      if (r.status !== 0) throw new Error(`export --format ${format} failed (${r.status}): ${r.stderr}`);
      const kb = Number(/MAXRSS_KB (\d+)/.exec(r.stderr)?.[1] ?? NaN);
      const manifest = JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8"));
      const rows = manifest.tables
        ? manifest.tables.reduce((a: number, t: { rows: number }) => a + t.rows, 0)
        : manifest.traces.spans;
      const bytes = manifest.tables
        ? manifest.tables.reduce((a: number, t: { bytes: number }) => a + t.bytes, 0)
        : manifest.traces.bytes;
      if (manifest.tables) dbRows = rows;
      const row = { format, seconds, peakRssMiB: kb / 1024, rows, bytes, rowsPerSecond: rows / seconds };
      formats.push(row);
      print(
        `export ${format.padEnd(7)} ${seconds.toFixed(1).padStart(6)} s  peak RSS ${row.peakRssMiB.toFixed(0).padStart(4)} MiB  ` +
          `${rows.toLocaleString("en-US")} ${manifest.tables ? "rows" : "spans"}  ${(bytes / 2 ** 20).toFixed(0)} MiB  ${Math.round(row.rowsPerSecond).toLocaleString("en-US")}/s`,
      );
      fs.rmSync(out, { recursive: true, force: true });
    }
    return { tasks: opts.tasks, dbRows, dbBytes: fs.statSync(db).size, generateSeconds, formats };
  } finally {
    if (own) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const tasks = Number(process.argv[2] ?? 1_000_000);
  const r = await benchExport({ tasks });
  console.log(
    `database: ${r.dbRows.toLocaleString("en-US")} rows, ${(r.dbBytes / 2 ** 20).toFixed(0)} MiB (generated in ${r.generateSeconds.toFixed(0)} s)`,
  );
}
