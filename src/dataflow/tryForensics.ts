/**
 * Failure forensics of one try (docs/SCHEMA.md, `try.task_try_error*`, `task_try_exit_code`,
 * `task_try_std*_tail`): what a failed try's row records about its error and its output.
 * Only failed tries pay for any of this; the success path never calls in here.
 */
import fs from "node:fs";
import { errorTypeOf } from "../apps/errorWire.js";
import type { StreamTarget } from "../apps/definition.js";
import { ERROR_TEXT_MAX_BYTES, TAIL_BYTES, type TryColumns } from "../monitoring/messages.js";

/** Byte offsets of a try's stream files when it was launched: where this try's output begins. */
export interface StreamMarks {
  stdout: number | null;
  stderr: number | null;
}

/**
 * Where the output of a try about to run will begin in `t`: the file's current size when it is
 * appended to, 0 when the try truncates it. Read on the submit host, as the tails are (the
 * stream files live on a file system the submit host shares, as in Parsl).
 */
export function streamMark(t: StreamTarget | null): number | null {
  if (t === null) return null;
  if (t.mode === "w") return 0;
  try {
    return fs.statSync(t.path, { throwIfNoEntry: false })?.size ?? 0;
  } catch {
    return 0;
  }
}

/**
 * The last TAIL_BYTES bytes written to `path` since `from`, as text ('' when the try wrote
 * nothing), or null when the file cannot be read. A file now shorter than `from` was truncated
 * by the try, so all of it is the try's. A character cut by the 4 KiB window is left out whole.
 */
export function tailSince(path: string, from: number): string | null {
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const begin = size < from ? 0 : from;
    const start = Math.max(begin, size - TAIL_BYTES);
    const buf = Buffer.allocUnsafe(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    let skip = 0;
    if (start > begin) while (skip < got && skip < 3 && (buf[skip]! & 0xc0) === 0x80) skip++;
    return buf.toString("utf8", skip, got);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Message and stack in one text: the stack when it already starts with the message, else both. */
export function errorText(e: Error): string {
  const head = `${e.name}: ${e.message}`;
  const stack = typeof e.stack === "string" ? e.stack : "";
  const text = stack === "" ? head : stack.includes(e.message) ? stack : `${head}\n${stack}`;
  return boundText(text, ERROR_TEXT_MAX_BYTES);
}

/** `text` cut to at most `max` UTF-8 bytes, with a marker saying how much there was. */
export function boundText(text: string, max: number): string {
  // Fast path: a string of at most max/3 UTF-16 units is at most max bytes.
  if (text.length * 3 <= max) return text;
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return text;
  const marker = `\n… [truncated: ${bytes.length} bytes in all]`;
  let cut = max - Buffer.byteLength(marker);
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--; // do not split a character
  return bytes.toString("utf8", 0, cut) + marker;
}

/** A bash app's exit code, or the 128+signal of a lost worker, when the error carries one. */
export function exitCodeOf(e: Error): number | null {
  const code = (e as { exitCode?: unknown }).exitCode;
  return typeof code === "number" && Number.isSafeInteger(code) ? code : null;
}

/** The forensic columns of a failed try. `marks` are null when the try never launched. */
export function failureColumns(
  error: Error,
  stdout: StreamTarget | null,
  stderr: StreamTarget | null,
  marks: StreamMarks | null,
): Partial<TryColumns> {
  const cols: Partial<TryColumns> = { task_try_error_type: errorTypeOf(error), task_try_error: errorText(error) };
  const code = exitCodeOf(error);
  if (code !== null) cols.task_try_exit_code = code;
  if (marks) {
    if (stdout && marks.stdout !== null) cols.task_try_stdout_tail = tailSince(stdout.path, marks.stdout);
    if (stderr && marks.stderr !== null) cols.task_try_stderr_tail = tailSince(stderr.path, marks.stderr);
  }
  return cols;
}
