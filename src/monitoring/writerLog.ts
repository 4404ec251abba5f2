/**
 * The writer process's log file (`<runDir>/database_manager.log`, as Parsl names it).
 */
import fs from "node:fs";
import path from "node:path";
import { logTimestamp } from "../logTime.js";

export type Level = "DEBUG" | "INFO" | "WARNING" | "ERROR";

export class WriterLog {
  private fd: number | null = null;

  constructor(
    runDir: string,
    private readonly debugEnabled: boolean,
  ) {
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
