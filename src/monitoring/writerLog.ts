/**
 * The writer process's log file (`<runDir>/database_manager.log`, as Parsl names it) and a
 * rate limiter for repeated warnings, so a stream of garbage cannot flood the kernel's stderr.
 */
import fs from "node:fs";
import path from "node:path";
import { logTimestamp } from "../logTime.js";

export type Level = "DEBUG" | "INFO" | "WARNING" | "ERROR";

export class WriterLog {
  private fd: number | null = null;

  constructor(runDir: string, private readonly debugEnabled: boolean) {
    try {
      fs.mkdirSync(runDir, { recursive: true });
      this.fd = fs.openSync(path.join(runDir, "database_manager.log"), "a");
    } catch {
      this.fd = null; // logging must never stop the writer; errors still reach the kernel over IPC
    }
  }

  get debugging(): boolean {
    return this.debugEnabled;
  }

  log(level: Level, message: string): void {
    if (this.fd === null || (level === "DEBUG" && !this.debugEnabled)) return;
    const line = `${logTimestamp()} database_manager:${process.pid} ${level} ${message}\n`; // same time stamps as parsl.log
    try {
      fs.writeSync(this.fd, line);
    } catch {
      /* a full disk must not stop the writer */
    }
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Reports the first occurrence of a kind of problem at once and folds repeats within
 * `windowMs` into one summary line.
 */
export class RateLimitedReporter {
  private suppressed = 0;
  private latest = "";
  private windowOpen = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly report: (message: string) => void, private readonly windowMs = 1000) {}

  add(message: string): void {
    if (!this.windowOpen) {
      this.windowOpen = true;
      this.report(message);
      this.timer = setTimeout(() => this.closeWindow(), this.windowMs);
      this.timer.unref();
      return;
    }
    this.suppressed++;
    this.latest = message;
  }

  /** Reports what is still folded (call before exiting). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.closeWindow();
  }

  private closeWindow(): void {
    this.timer = null;
    this.windowOpen = false;
    if (this.suppressed > 0) {
      this.report(`${this.suppressed} more like this (latest: ${this.latest})`);
      this.suppressed = 0;
      this.latest = "";
    }
  }
}
