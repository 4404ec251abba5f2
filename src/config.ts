/**
 * `Config`: everything `load()` needs. Option names are Parsl's, in camelCase. Every
 * value is checked here, and a bad one raises a ConfigurationError naming the field.
 */
import { ConfigurationError } from "./errors.js";
import type { Executor } from "./executors/base.js";
import { INTERNAL_EXECUTOR_LABEL } from "./executors/base.js";
import { ThreadPoolExecutor } from "./executors/threadPool.js";
import { MonitoringHub } from "./monitoring/hub.js";
import { CHECKPOINT_MODES, type CheckpointMode, parsePeriod } from "./dataflow/memoizer.js";
import type { LogLevel } from "./dataflow/runLog.js";

/** What a retry handler sees of a task. */
export interface TaskRecordView {
  readonly id: number;
  readonly appName: string;
  readonly executor: string;
  readonly tryId: number;
  readonly failCount: number;
  readonly failCost: number;
  readonly args: readonly unknown[];
}

/** Returns the cost of this failure; the task is retried while the accumulated cost ≤ `retries`. */
export type RetryHandler = (error: Error, task: TaskRecordView) => number;

export interface ConfigOptions {
  executors?: Executor[];
  monitoring?: MonitoringHub | null;
  /** Where run directories (`000`, `001`…) and the default database go. Default `runinfo`. */
  runDir?: string;
  /** Retry budget per task (default 0). */
  retries?: number;
  retryHandler?: RetryHandler | null;
  /** Global memoization switch (default true; apps opt in with `cache: true`). */
  appCache?: boolean;
  checkpointMode?: CheckpointMode | null;
  /** "HH:MM:SS", for checkpointMode "periodic". */
  checkpointPeriod?: string | null;
  /** Checkpoint directories to load (see getAllCheckpoints / getLastCheckpoint). */
  checkpointFiles?: string[] | null;
  /** Run log level (default "info"). */
  logLevel?: LogLevel;
  /** End the run cleanly on SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
  /** Print one line on stderr when the run ends: status, tasks per final state, duration, database (default true). */
  summary?: boolean;
}

export class Config {
  readonly executors: readonly Executor[];
  readonly monitoring: MonitoringHub | null;
  readonly runDir: string;
  readonly retries: number;
  readonly retryHandler: RetryHandler | null;
  readonly appCache: boolean;
  readonly checkpointMode: CheckpointMode | null;
  readonly checkpointPeriod: string | null;
  readonly checkpointFiles: readonly string[] | null;
  readonly logLevel: LogLevel;
  readonly handleSignals: boolean;
  readonly summary: boolean;

  constructor(options: ConfigOptions = {}) {
    if (options === null || typeof options !== "object") throw new ConfigurationError("Config", "options must be an object");
    const known = ["executors", "monitoring", "runDir", "retries", "retryHandler", "appCache", "checkpointMode", "checkpointPeriod", "checkpointFiles", "logLevel", "handleSignals", "summary"];
    for (const k of Object.keys(options)) {
      if (!known.includes(k)) throw new ConfigurationError(k, `is not a Config option (known: ${known.join(", ")})`);
    }

    const executors = options.executors ?? [new ThreadPoolExecutor()];
    if (!Array.isArray(executors) || executors.length === 0) throw new ConfigurationError("executors", "must be a non-empty array of executors");
    const labels = new Set<string>();
    executors.forEach((e, i) => {
      if (!e || typeof e !== "object" || typeof e.submit !== "function" || typeof e.start !== "function" || typeof e.shutdown !== "function") {
        throw new ConfigurationError(`executors[${i}]`, "is not an executor (needs label, start, submit, shutdown)");
      }
      if (typeof e.label !== "string" || e.label === "") throw new ConfigurationError(`executors[${i}].label`, "must be a non-empty string");
      if (e.label === INTERNAL_EXECUTOR_LABEL) throw new ConfigurationError(`executors[${i}].label`, `'${INTERNAL_EXECUTOR_LABEL}' is reserved for the kernel`);
      if (labels.has(e.label)) throw new ConfigurationError(`executors[${i}].label`, `'${e.label}' is used by two executors`);
      labels.add(e.label);
    });
    this.executors = executors;

    const m = options.monitoring ?? null;
    if (m !== null && !(m instanceof MonitoringHub)) throw new ConfigurationError("monitoring", "must be a MonitoringHub or null");
    this.monitoring = m;

    this.runDir = options.runDir ?? "runinfo";
    if (typeof this.runDir !== "string" || this.runDir === "") throw new ConfigurationError("runDir", "must be a non-empty path");

    this.retries = options.retries ?? 0;
    if (typeof this.retries !== "number" || !Number.isFinite(this.retries) || this.retries < 0) {
      throw new ConfigurationError("retries", `must be a number ≥ 0, got ${JSON.stringify(options.retries)}`);
    }
    this.retryHandler = options.retryHandler ?? null;
    if (this.retryHandler !== null && typeof this.retryHandler !== "function") throw new ConfigurationError("retryHandler", "must be a function (error, task) => cost");

    this.appCache = options.appCache ?? true;
    if (typeof this.appCache !== "boolean") throw new ConfigurationError("appCache", "must be true or false");

    this.checkpointMode = options.checkpointMode ?? null;
    if (this.checkpointMode !== null && !CHECKPOINT_MODES.includes(this.checkpointMode)) {
      throw new ConfigurationError("checkpointMode", `must be one of ${CHECKPOINT_MODES.join(", ")} or null, got ${JSON.stringify(this.checkpointMode)}`);
    }
    this.checkpointPeriod = options.checkpointPeriod ?? null;
    if (this.checkpointMode === "periodic") parsePeriod(this.checkpointPeriod);
    else if (this.checkpointPeriod !== null) parsePeriod(this.checkpointPeriod);

    const files = options.checkpointFiles ?? null;
    if (files !== null && (!Array.isArray(files) || files.some((f) => typeof f !== "string"))) {
      throw new ConfigurationError("checkpointFiles", "must be an array of checkpoint directory paths");
    }
    this.checkpointFiles = files;

    this.logLevel = options.logLevel ?? "info";
    if (!["debug", "info", "warning", "error"].includes(this.logLevel)) throw new ConfigurationError("logLevel", `must be debug, info, warning or error, got ${JSON.stringify(this.logLevel)}`);
    this.handleSignals = options.handleSignals ?? true;
    if (typeof this.handleSignals !== "boolean") throw new ConfigurationError("handleSignals", "must be true or false");
    this.summary = options.summary ?? true;
    if (typeof this.summary !== "boolean") throw new ConfigurationError("summary", `must be true or false, got ${JSON.stringify(options.summary)}`);
  }
}
