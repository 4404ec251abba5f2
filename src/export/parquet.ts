/**
 * Parquet output through hyparquet-writer (pure JavaScript, no native code, nothing fetched at
 * install time), loaded only when a Parquet export is asked for. Rows are buffered per row group
 * (ROW_GROUP rows) and each group is encoded and flushed to the file before the next is read, so
 * memory is bounded by one row group whatever the table's size.
 *
 * Types: TEXT → UTF-8 string (BYTE_ARRAY/STRING); INTEGER, BIGINT → INT64; FLOAT → DOUBLE;
 * BOOLEAN → BOOLEAN; DATETIME → INT64 TIMESTAMP(MICROS, isAdjustedToUTC = false), because
 * Parsl's timestamps are naive local wall-clock readings with microseconds. Every column is
 * OPTIONAL (NULL allowed). A value that does not fit its column's type (SQLite lets text into
 * any column) is written as NULL and counted in the manifest's `coerced`.
 */
import fs from "node:fs";
import type { Row } from "../database/connection.js";
import type { ColumnType } from "../database/schema.js";
import type { TableSink } from "./text.js";
import type { ExportColumn } from "./tables.js";

/** Rows per row group. */
export const ROW_GROUP = 100_000;

const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** Microseconds since 1970-01-01 00:00 on the naive clock (the text's wall-clock reading), or null. */
export function naiveToMicros(text: string): bigint | null {
  const m = DATETIME_RE.exec(text);
  if (!m) return null;
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (!Number.isFinite(ms)) return null;
  return BigInt(ms) * 1000n + BigInt((m[7] ?? "").padEnd(6, "0"));
}

/** The Parquet schema element of a column (the manifest reports the same). */
export function parquetType(type: ColumnType): string {
  switch (type) {
    case "TEXT":
      return "STRING";
    case "INTEGER":
    case "BIGINT":
      return "INT64";
    case "FLOAT":
      return "DOUBLE";
    case "BOOLEAN":
      return "BOOLEAN";
    case "DATETIME":
      return "TIMESTAMP(MICROS, local)";
  }
}

function schemaElement(c: ExportColumn): Record<string, unknown> {
  const base = { name: c.name, repetition_type: "OPTIONAL" };
  switch (c.type) {
    case "TEXT":
      return { ...base, type: "BYTE_ARRAY", converted_type: "UTF8" };
    case "INTEGER":
    case "BIGINT":
      return { ...base, type: "INT64" };
    case "FLOAT":
      return { ...base, type: "DOUBLE" };
    case "BOOLEAN":
      return { ...base, type: "BOOLEAN" };
    case "DATETIME":
      return { ...base, type: "INT64", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: false, unit: "MICROS" } };
  }
}

/** Converts one value to its Parquet column's JS representation; undefined means "does not fit". */
function convert(type: ColumnType, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (type) {
    case "TEXT":
      return typeof v === "string" ? v : String(v);
    case "INTEGER":
    case "BIGINT": {
      if (typeof v === "bigint") return v;
      const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
      return Number.isSafeInteger(n) ? BigInt(n) : undefined;
    }
    case "FLOAT": {
      const n =
        typeof v === "number"
          ? v
          : typeof v === "bigint"
            ? Number(v)
            : typeof v === "string" && v.trim() !== ""
              ? Number(v)
              : NaN;
      return Number.isNaN(n) && !(typeof v === "number") ? undefined : n;
    }
    case "BOOLEAN":
      if (typeof v === "boolean") return v;
      if (typeof v === "number" || typeof v === "bigint") return Number(v) !== 0;
      return typeof v === "string" && /^(0|1|t|f|true|false)$/i.test(v) ? /^(1|t|true)$/i.test(v) : undefined;
    case "DATETIME":
      return typeof v === "string"
        ? (naiveToMicros(v) ?? undefined)
        : v instanceof Date
          ? BigInt(v.getTime()) * 1000n
          : undefined;
  }
}

type Writer = import("hyparquet-writer").Writer;
type ParquetWriterT = import("hyparquet-writer").ParquetWriter;

export class ParquetSink implements TableSink {
  private buffered: unknown[][];
  private count = 0;
  /** Values written as NULL because they did not fit the column type. */
  coerced = 0;

  private constructor(
    private readonly file: string,
    private readonly columns: readonly ExportColumn[],
    private readonly writer: ParquetWriterT,
    private readonly rowGroup: number,
  ) {
    this.buffered = columns.map(() => []);
  }

  static async create(
    dir: string,
    name: string,
    columns: readonly ExportColumn[],
    createdBy: string,
    rowGroup = ROW_GROUP,
  ): Promise<ParquetSink> {
    const lib = await import("hyparquet-writer");
    const file = `${dir}/${name}`;
    const out: Writer = lib.fileWriter(file + ".partial");
    const schema = [{ name: "root", num_children: columns.length }, ...columns.map(schemaElement)];
    const writer = new lib.ParquetWriter({ writer: out, schema: schema as never, createdBy });
    return new ParquetSink(file, columns, writer, rowGroup);
  }

  get bytes(): number {
    try {
      return fs.statSync(this.file).size;
    } catch {
      return 0;
    }
  }

  async write(rows: readonly Row[]): Promise<void> {
    for (const r of rows) {
      for (let i = 0; i < this.columns.length; i++) {
        const c = this.columns[i]!;
        let v = convert(c.type, r[c.name]);
        if (v === undefined) {
          v = null;
          this.coerced++;
        }
        this.buffered[i]!.push(v);
      }
      if (++this.count === this.rowGroup) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    if (this.count === 0) return;
    const columnData = this.columns.map((c, i) => ({ name: c.name, data: this.buffered[i]! }));
    await this.writer.write({ columnData: columnData, rowGroupSize: this.count });
    this.buffered = this.columns.map(() => []);
    this.count = 0;
  }

  async commit(): Promise<void> {
    await this.flush();
    await this.writer.finish();
    await fs.promises.rename(this.file + ".partial", this.file);
  }

  async discard(): Promise<void> {
    await fs.promises.rm(this.file + ".partial", { force: true });
  }
}
