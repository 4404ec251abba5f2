/**
 * `exportRuns`: the chosen runs' seven tables as CSV, JSON lines or Parquet (a file per table),
 * or their traces as OTLP/JSON lines, plus `manifest.json` (what was written: format, source,
 * runs, per-table rows, columns and types, parsl-ts version, time). Everything streams: tables are
 * read in keyset pages (tables.ts) and written as they come.
 */
import fs from "node:fs";
import path from "node:path";
import type { ReadContext } from "../database/queries/context.js";
import type { TableName } from "../database/schema.js";
import { ExportError, OutputFile, checkTargets, prepareDirectory } from "./files.js";
import { writeRunTrace, type OtlpCounts } from "./otlp.js";
import { ParquetSink, parquetType } from "./parquet.js";
import { EXPORT_ORDER, exportColumns, tablePages, type ExportColumn } from "./tables.js";
import { CsvSink, JsonlSink, type TableSink } from "./text.js";

export { ExportError } from "./files.js";
export const EXPORT_FORMATS = ["csv", "jsonl", "parquet", "otlp"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const MANIFEST = "manifest.json";
export const TRACES_FILE = "traces.otlp.jsonl";

export interface ExportRun {
  readonly run_id: string;
  readonly workflow_name: string | null;
}

export interface ExportOptions {
  readonly format: ExportFormat;
  readonly dir: string;
  readonly runs: readonly ExportRun[];
  /** Replace files of an earlier export in `dir`. */
  readonly overwrite?: boolean;
  readonly version: string;
  /** Called after each page or line (progress on a terminal). */
  readonly progress?: (table: string, rows: number) => void;
  /** Rows per page (tests lower it to exercise paging). */
  readonly pageRows?: number;
}

export interface TableManifest {
  name: TableName;
  file: string;
  rows: number;
  bytes: number;
  columns: { name: string; type: string; parquet_type?: string }[];
  /** Parquet: values written as NULL because they did not fit the column type. */
  coerced?: number;
}

export interface Manifest {
  format: ExportFormat;
  parsl_ts_version: string;
  created: string;
  source: string;
  runs: ExportRun[];
  tables?: TableManifest[];
  traces?: { file: string; bytes: number } & OtlpCounts;
  seconds: number;
}

const EXTENSION: Record<Exclude<ExportFormat, "otlp">, string> = { csv: "csv", jsonl: "jsonl", parquet: "parquet" };

export function outputNames(format: ExportFormat): string[] {
  return format === "otlp"
    ? [TRACES_FILE, MANIFEST]
    : [...EXPORT_ORDER.map((t) => `${t}.${EXTENSION[format]}`), MANIFEST];
}

async function openSink(
  format: Exclude<ExportFormat, "otlp">,
  dir: string,
  name: string,
  columns: ExportColumn[],
  version: string,
): Promise<TableSink & { coerced?: number }> {
  switch (format) {
    case "csv":
      return CsvSink.create(dir, name, columns);
    case "jsonl":
      return JsonlSink.create(dir, name, columns);
    case "parquet":
      return ParquetSink.create(dir, name, columns, `parsl-ts ${version}`);
  }
}

export async function exportRuns(ctx: ReadContext, o: ExportOptions): Promise<Manifest> {
  const t0 = performance.now();
  const dir = prepareDirectory(o.dir);
  checkTargets(dir, outputNames(o.format), o.overwrite ?? false, o.dir);
  const manifest: Manifest = {
    format: o.format,
    parsl_ts_version: o.version,
    created: new Date().toISOString(),
    source: ctx.db.location,
    runs: o.runs.map((r) => ({ run_id: r.run_id, workflow_name: r.workflow_name })),
    seconds: 0,
  };
  if (o.format === "otlp") {
    const out = await OutputFile.create(dir, TRACES_FILE);
    const counts: OtlpCounts = { traces: 0, spans: 0, events: 0, lines: 0 };
    try {
      for (const r of o.runs) {
        await writeRunTrace(ctx, r.run_id, out, { name: "parsl-ts export", version: o.version }, counts);
        o.progress?.("traces", counts.spans);
      }
      await out.commit();
    } catch (e) {
      await out.discard();
      throw e;
    }
    manifest.traces = { file: TRACES_FILE, bytes: out.bytes, ...counts };
  } else {
    manifest.tables = [];
    for (const table of EXPORT_ORDER) {
      const columns = exportColumns(ctx, table);
      const file = `${table}.${EXTENSION[o.format]}`;
      const sink = await openSink(o.format, dir, file, columns, o.version);
      let rows = 0;
      try {
        for (const r of o.runs) {
          for await (const page of tablePages(ctx, table, r.run_id, o.pageRows)) {
            await sink.write(page);
            rows += page.length;
            o.progress?.(table, rows);
          }
        }
        await sink.commit();
      } catch (e) {
        await sink.discard();
        throw e;
      }
      manifest.tables.push({
        name: table,
        file,
        rows,
        bytes: sink.bytes,
        columns: columns.map((c) => ({
          name: c.name,
          type: c.type,
          ...(o.format === "parquet" ? { parquet_type: parquetType(c.type) } : {}),
        })),
        ...(sink.coerced !== undefined ? { coerced: sink.coerced } : {}),
      });
    }
  }
  manifest.seconds = Math.round(performance.now() - t0) / 1000;
  const m = await OutputFile.create(dir, MANIFEST);
  await m.write(JSON.stringify(manifest, null, 2) + "\n");
  await m.commit();
  return manifest;
}

/** Reads a manifest back (tests, tools). */
export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST);
  if (!fs.existsSync(file)) throw new ExportError(`${dir} holds no ${MANIFEST}`);
  return JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
}
