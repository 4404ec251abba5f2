/**
 * The run log, `<runDir>/NNN/parsl.log`: one line per kernel decision worth reading
 * (`2026-11-24 21:52:10.257 INFO task 3 launched on threads`). Buffered, so logging
 * never blocks the kernel; per-task routine transitions are DEBUG.
 */
import fs from "node:fs";

export type LogLevel = "debug" | "info" | "warning" | "error";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export class RunLog {
  #stream: fs.WriteStream | null;
  #min: number;

  constructor(readonly file: string | null, level: LogLevel) {
    this.#min = RANK[level];
    this.#stream = file ? fs.createWriteStream(file, { flags: "a" }) : null;
    this.#stream?.on("error", (e) => process.stderr.write(`parsl-ts: cannot write run log ${file}: ${e.message}\n`));
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min && this.#stream !== null;
  }

  write(level: LogLevel, message: string): void {
    if (RANK[level] < this.#min || !this.#stream) return;
    const d = new Date();
    const p = (n: number, w = 2) => String(n).padStart(w, "0");
    const ts = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
    this.#stream.write(`${ts} ${level.toUpperCase()} ${message}\n`);
  }

  close(): Promise<void> {
    const s = this.#stream;
    this.#stream = null;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(resolve));
  }
}
