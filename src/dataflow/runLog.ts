/**
 * The run log, `<runDir>/NNN/parsl.log`: one line per kernel decision worth reading
 * (`2026-11-24 21:52:10.257+00:00 INFO task 3 launched on threads`; time stamps as in
 * logTime.ts). Buffered, so logging never blocks the kernel; per-task routine transitions are DEBUG.
 */
import fs from "node:fs";
import { logTimestamp } from "../logTime.js";

import type { LogLevel } from "../vocabulary/states.js";

export type { LogLevel };
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40 };

export class RunLog {
  #stream: fs.WriteStream | null;
  #min: number;

  constructor(
    readonly file: string | null,
    level: LogLevel,
  ) {
    this.#min = RANK[level];
    this.#stream = file ? fs.createWriteStream(file, { flags: "a" }) : null;
    this.#stream?.on("error", (e) => process.stderr.write(`parsl-ts: cannot write run log ${file}: ${e.message}\n`));
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#min && this.#stream !== null;
  }

  write(level: LogLevel, message: string): void {
    if (RANK[level] < this.#min || !this.#stream) return;
    this.#stream.write(`${logTimestamp()} ${level.toUpperCase()} ${message}\n`);
  }

  close(): Promise<void> {
    const s = this.#stream;
    this.#stream = null;
    if (!s) return Promise.resolve();
    return new Promise((resolve) => s.end(resolve));
  }
}
