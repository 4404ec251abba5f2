/**
 * What an executor needs to know about an app, and where its streams go: the app layer's
 * vocabulary that executors, the body runtime and the kernel share. Types only.
 */

/** How an app body is turned into work on the executor. */
export type AppKind = "ts" | "bash";

/** What an executor needs to know about an app to run it anywhere. */
export interface AppDefinition {
  readonly name: string;
  readonly kind: AppKind;
  /** The body. In-process executors call it directly. */
  readonly fn: (...args: unknown[]) => unknown;
  /**
   * The body's source, for executors that run it in another thread or process. Computed
   * once per app. `null` when the function cannot be sent (bound or native functions):
   * such executors must fail the try with an error naming the app.
   */
  readonly source: string | null;
  /** A stable id for `source` (and `origin`), so remote workers compile each body once. */
  readonly sourceId: string;
  /**
   * Where `source` begins in the user's file, so a body compiled from it elsewhere reports
   * stack frames at the user's own file and line. Absent when unknown.
   */
  readonly origin?: SourceOrigin | null;
}

/** A position in a source file: `file` as V8 names it in stack traces (a path or file: URL), 1-based line and column. */
export interface SourceOrigin {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Where one of a try's streams is written. */
export interface StreamTarget {
  readonly path: string;
  /** 'w' truncates, 'a' appends (the default). */
  readonly mode: "w" | "a";
}
