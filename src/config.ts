/**
 * `Config`: everything `load()` needs. Option names are Parsl's, in camelCase. Every
 * value is checked here, and a bad one raises a ConfigurationError naming the field.
 */
import type { Executor } from "./executors/base.js";
import { INTERNAL_EXECUTOR_LABEL } from "./executors/base.js";
import { ThreadPoolExecutor } from "./executors/threadPool.js";
import { MonitoringHub } from "./monitoring/hub.js";
import type { LogLevel } from "./vocabulary/states.js";
import { ConfigurationError } from "./errors.js";
import { Options, type OptionsSpec } from "./validation.js";

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warning", "error"];

/** The options `Config` takes; Parsl's Config options that live elsewhere in parsl-ts say where. */
const CONFIG_OPTIONS: OptionsSpec = {
  kind: "Config",
  known: [
    "executors",
    "monitoring",
    "runDir",
    "retries",
    "retryHandler",
    "appCache",
    "checkpointMode",
    "checkpointPeriod",
    "checkpointFiles",
    "logLevel",
    "handleSignals",
    "summary",
    "progress",
  ],
  elsewhere: {
    strategy: "in parsl-ts it is an option of HighThroughputExecutor",
    strategyPeriod: "in parsl-ts it is an option of HighThroughputExecutor",
    maxIdletime: "in parsl-ts it is an option of HighThroughputExecutor",
  },
};

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
  /**
   * Show live progress on stderr while the run works (default false): per-app bars redrawn a few
   * times a second when stderr is a terminal, else one plain line every 5 s while something changes.
   */
  progress?: boolean;
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
  readonly progress: boolean;

  constructor(options: ConfigOptions = {}) {
    const o: Options = new Options(CONFIG_OPTIONS, options);

    const executors = o.raw("executors") ?? [new ThreadPoolExecutor()];
    if (!Array.isArray(executors) || executors.length === 0)
      o.fail("executors", "must be a non-empty array of executors");
    const labels = new Set<string>();
    (executors as unknown[]).forEach((e, i) => {
      const x = e as Partial<Executor> | null;
      if (
        !x ||
        typeof x !== "object" ||
        typeof x.submit !== "function" ||
        typeof x.start !== "function" ||
        typeof x.shutdown !== "function"
      ) {
        o.fail(`executors[${i}]`, "is not an executor (needs label, start, submit, shutdown)");
      }
      if (typeof x.label !== "string" || x.label === "") o.fail(`executors[${i}].label`, "must be a non-empty string");
      if (x.label === INTERNAL_EXECUTOR_LABEL)
        o.fail(`executors[${i}].label`, `'${INTERNAL_EXECUTOR_LABEL}' is reserved for the kernel`);
      if (labels.has(x.label)) o.fail(`executors[${i}].label`, `'${x.label}' is used by two executors`);
      labels.add(x.label);
    });
    this.executors = executors as Executor[];

    this.monitoring = o.check<MonitoringHub | null>(
      "monitoring",
      null,
      (m) => m === null || m instanceof MonitoringHub,
      "a MonitoringHub (new MonitoringHub({...})) or null",
    );
    this.runDir = o.check("runDir", "runinfo", (d) => typeof d === "string" && d !== "", "a non-empty path");
    this.retries = o.number("retries", 0, { min: 0 });
    this.retryHandler = o.check<RetryHandler | null>(
      "retryHandler",
      null,
      (f) => f === null || typeof f === "function",
      "a function (error, task) => cost, or null",
    );
    this.appCache = o.boolean("appCache", true);
    this.checkpointMode = o.check<CheckpointMode | null>(
      "checkpointMode",
      null,
      (m) => m === null || CHECKPOINT_MODES.includes(m as CheckpointMode),
      `one of ${CHECKPOINT_MODES.join(", ")}, or null`,
    );
    this.checkpointPeriod = o.check<string | null>(
      "checkpointPeriod",
      null,
      (p) => p === null || typeof p === "string",
      'an "HH:MM:SS" string or null',
    );
    if (this.checkpointMode === "periodic" || this.checkpointPeriod !== null) parsePeriod(this.checkpointPeriod);
    this.checkpointFiles = o.check<string[] | null>(
      "checkpointFiles",
      null,
      (f) => f === null || (Array.isArray(f) && f.every((x) => typeof x === "string")),
      "an array of checkpoint directory paths, or null",
    );
    this.logLevel = o.oneOf<LogLevel>("logLevel", "info", LOG_LEVELS);
    this.handleSignals = o.boolean("handleSignals", true);
    this.summary = o.boolean("summary", true);
    this.progress = o.boolean("progress", false);
  }
}

export type CheckpointMode = "task_exit" | "periodic" | "dfk_exit" | "manual";
export const CHECKPOINT_MODES: readonly CheckpointMode[] = ["task_exit", "periodic", "dfk_exit", "manual"];

/** "HH:MM:SS" → seconds. */
export function parsePeriod(p: string | null): number {
  if (p === null || p === undefined)
    throw new ConfigurationError("Config.checkpointPeriod", "is required when checkpointMode is 'periodic'");
  const m = /^(\d+):([0-5]\d):([0-5]\d)$/.exec(String(p));
  if (!m) throw new ConfigurationError("Config.checkpointPeriod", `must be HH:MM:SS, got ${JSON.stringify(p)}`);
  const s = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
  if (s <= 0) throw new ConfigurationError("Config.checkpointPeriod", "must be longer than 00:00:00");
  return s;
}
