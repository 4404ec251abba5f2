/**
 * `File`: a named piece of data an app reads (`inputs`) or writes (`outputs`).
 * A `File` may be a plain path (`data/x.txt`) or a URL (`file:///tmp/x`, `globus://…`);
 * its `url` is what monitoring records and what memoization hashes.
 */
import path from "node:path";

export class File {
  readonly url: string;
  readonly scheme: string;
  /** Local filesystem path for `file` URLs and plain paths, else the URL's path part. */
  readonly filepath: string;

  constructor(url: string) {
    if (typeof url !== "string" || url.length === 0) {
      throw new TypeError(`File needs a non-empty path or URL, got ${JSON.stringify(url)}`);
    }
    this.url = url;
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/.exec(url);
    if (m && m[1]!.length > 1) {
      this.scheme = m[1]!.toLowerCase();
      const rest = m[2]!;
      this.filepath = rest.startsWith("//") ? rest.replace(/^\/\/[^/]*/, "") || "/" : rest;
    } else {
      this.scheme = "file";
      this.filepath = url;
    }
  }

  /** Absolute local path (relative paths resolve against the current directory). */
  get localPath(): string {
    return path.resolve(this.filepath);
  }

  toString(): string {
    return this.filepath;
  }
}

/**
 * Pass as `stdout` or `stderr` of a bash app to get an automatic file under the run
 * directory: `<runDir>/task_logs/NNNN/task_<id>_<app>.stdout|stderr`.
 */
export const AUTO_LOGNAME: unique symbol = Symbol.for("parsl-ts.AUTO_LOGNAME");
export type AutoLogname = typeof AUTO_LOGNAME;
