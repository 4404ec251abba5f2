/**
 * The text formats: CSV (RFC 4180: a header row, CRLF line ends, fields quoted when they hold a
 * comma, quote, CR or LF; NULL is an empty field and an empty string is `""`, so the two stay
 * apart) and JSON lines (one object per row, keys the column names).
 */
import type { Row } from "../database/connection.js";
import { OutputFile } from "./files.js";
import { normalise, type ExportColumn } from "./tables.js";

export interface TableSink {
  write(rows: readonly Row[]): Promise<void>;
  /** Completes the file and renames it into place. */
  commit(): Promise<void>;
  discard(): Promise<void>;
  readonly bytes: number;
}

function csvField(v: string | number | boolean | null): string {
  if (v === null) return "";
  const s = String(v);
  if (s === "") return '""';
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export class CsvSink implements TableSink {
  private constructor(
    private readonly out: OutputFile,
    private readonly columns: readonly ExportColumn[],
  ) {}

  static async create(dir: string, name: string, columns: readonly ExportColumn[]): Promise<CsvSink> {
    const sink = new CsvSink(await OutputFile.create(dir, name), columns);
    await sink.out.write(columns.map((c) => csvField(c.name)).join(",") + "\r\n");
    return sink;
  }

  get bytes(): number {
    return this.out.bytes;
  }

  async write(rows: readonly Row[]): Promise<void> {
    let text = "";
    for (const r of rows) text += this.columns.map((c) => csvField(normalise(c.type, r[c.name]))).join(",") + "\r\n";
    await this.out.write(text);
  }

  commit(): Promise<void> {
    return this.out.commit();
  }

  discard(): Promise<void> {
    return this.out.discard();
  }
}

export class JsonlSink implements TableSink {
  private constructor(
    private readonly out: OutputFile,
    private readonly columns: readonly ExportColumn[],
  ) {}

  static async create(dir: string, name: string, columns: readonly ExportColumn[]): Promise<JsonlSink> {
    return new JsonlSink(await OutputFile.create(dir, name), columns);
  }

  get bytes(): number {
    return this.out.bytes;
  }

  async write(rows: readonly Row[]): Promise<void> {
    let text = "";
    for (const r of rows) {
      const o: Record<string, unknown> = {};
      for (const c of this.columns) o[c.name] = normalise(c.type, r[c.name]);
      text += JSON.stringify(o) + "\n";
    }
    await this.out.write(text);
  }

  commit(): Promise<void> {
    return this.out.commit();
  }

  discard(): Promise<void> {
    return this.out.discard();
  }
}
