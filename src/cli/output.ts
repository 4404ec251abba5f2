/**
 * Output of rows in the formats every command shares: `--format table|json|csv|tsv`.
 * table: aligned columns for people; json: an array of objects with the columns' keys;
 * csv: RFC 4180 (quoted where needed); tsv: tab-separated, with tabs, newlines and
 * backslashes escaped as \t, \n, \\.
 */
import { UsageError } from "./args.js";

export const FORMATS = ["table", "json", "csv", "tsv"] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(value: string | true | undefined, fallback: Format = "table"): Format {
  if (value === undefined) return fallback;
  if (value === true || !(FORMATS as readonly string[]).includes(value)) {
    throw new UsageError(
      `--format must be one of ${FORMATS.join(", ")}, got ${JSON.stringify(value === true ? "" : value)}`,
    );
  }
  return value as Format;
}

export interface ColumnSpec<R> {
  /** The JSON key and, for csv/tsv, the header. */
  readonly key: string;
  /** The table header (default: key). */
  readonly header?: string;
  readonly value: (row: R) => string | number | boolean | null;
  readonly align?: "left" | "right";
}

const cell = (v: string | number | boolean | null): string => (v === null ? "" : String(v));

function csvCell(v: string | number | boolean | null): string {
  const s = cell(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function tsvCell(v: string | number | boolean | null): string {
  return cell(v).replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
}

/** The rows as text in a format (ends with a newline unless empty table output). */
export function renderRows<R>(rows: readonly R[], columns: readonly ColumnSpec<R>[], format: Format): string {
  switch (format) {
    case "json":
      return (
        JSON.stringify(
          rows.map((r) => Object.fromEntries(columns.map((c) => [c.key, c.value(r)]))),
          null,
          2,
        ) + "\n"
      );
    case "csv":
      return (
        [columns.map((c) => csvCell(c.key)), ...rows.map((r) => columns.map((c) => csvCell(c.value(r))))]
          .map((line) => line.join(","))
          .join("\r\n") + "\r\n"
      );
    case "tsv":
      return (
        [columns.map((c) => c.key), ...rows.map((r) => columns.map((c) => tsvCell(c.value(r))))]
          .map((line) => line.join("\t"))
          .join("\n") + "\n"
      );
    case "table": {
      const texts = rows.map((r) => columns.map((c) => cell(c.value(r)).replace(/\s+/g, " ")));
      const headers = columns.map((c) => c.header ?? c.key);
      const widths = headers.map((h, i) => Math.max(h.length, ...texts.map((t) => t[i]!.length)));
      const line = (cells: string[]): string =>
        cells
          .map((s, i) => (columns[i]!.align === "right" ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
          .join("  ")
          .trimEnd();
      return [line(headers), ...texts.map(line)].join("\n") + "\n";
    }
  }
}

/**
 * Rows written as they arrive (`parsl-ts tasks` on a huge run): csv/tsv/json stream row by row;
 * a table takes its column widths from the first batch and widens them when a later row needs it.
 */
export class RowStream<R> {
  private widths: number[] | null = null;
  private count = 0;

  constructor(
    private readonly columns: readonly ColumnSpec<R>[],
    private readonly format: Format,
    private readonly write: (text: string) => void,
  ) {}

  add(rows: readonly R[]): void {
    const cols = this.columns;
    switch (this.format) {
      case "json":
        for (const r of rows) {
          this.write(
            (this.count++ === 0 ? "[\n  " : ",\n  ") +
              JSON.stringify(Object.fromEntries(cols.map((c) => [c.key, c.value(r)]))),
          );
        }
        return;
      case "csv":
      case "tsv": {
        const enc = this.format === "csv" ? csvCell : tsvCell;
        const sep = this.format === "csv" ? "," : "\t";
        const eol = this.format === "csv" ? "\r\n" : "\n";
        let text = this.count === 0 ? cols.map((c) => enc(c.key)).join(sep) + eol : "";
        for (const r of rows) text += cols.map((c) => enc(c.value(r))).join(sep) + eol;
        this.count += rows.length;
        this.write(text);
        return;
      }
      case "table": {
        const texts = rows.map((r) => cols.map((c) => cell(c.value(r)).replace(/\s+/g, " ")));
        let text = "";
        if (this.widths === null) {
          const headers = cols.map((c) => c.header ?? c.key);
          this.widths = headers.map((h, i) => Math.max(h.length, ...texts.map((t) => t[i]!.length)));
          text += this.line(headers) + "\n";
        }
        for (const t of texts) {
          t.forEach((s, i) => {
            this.widths![i] = Math.max(this.widths![i]!, s.length);
          });
          text += this.line(t) + "\n";
        }
        this.count += rows.length;
        this.write(text);
        return;
      }
    }
  }

  /** Ends the output (JSON's closing bracket; a table's header when no row came). */
  end(): void {
    if (this.format === "json") this.write(this.count === 0 ? "[]\n" : "\n]\n");
    else if (this.count === 0) this.add([]);
  }

  private line(cells: readonly string[]): string {
    return cells
      .map((s, i) => (this.columns[i]!.align === "right" ? s.padStart(this.widths![i]!) : s.padEnd(this.widths![i]!)))
      .join("  ")
      .trimEnd();
  }
}
