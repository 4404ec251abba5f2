/**
 * The provider contract: how an executor gets blocks (batch jobs or local processes) that run
 * its worker-pool command. Scaling limits live with the provider, as in Parsl.
 */
import type { BLOCK_STATES } from "../database/schema.js";
import { describeValue, type Options } from "../validation.js";
import type { Launcher } from "./launchers.js";

export type JobState = (typeof BLOCK_STATES)[number];

/** States after which a job will never run work again. */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set([
  "CANCELLED",
  "COMPLETED",
  "FAILED",
  "TIMEOUT",
  "MISSING",
  "SCALED_IN",
]);

export interface JobStatus {
  state: JobState;
  exitCode?: number | null;
  message?: string;
}

export interface ScalingOptions {
  /** Blocks started when the executor starts. Default 1. */
  initBlocks?: number;
  minBlocks?: number;
  maxBlocks?: number;
  /** Ratio of slots to outstanding tries the strategy aims for (0..1). Default 1. */
  parallelism?: number;
  nodesPerBlock?: number;
}

export interface ExecutionProvider {
  readonly label: string;
  readonly initBlocks: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly parallelism: number;
  readonly nodesPerBlock: number;
  /**
   * Starts one block running `command` on each of its nodes. `scriptDir` is where job scripts
   * and logs go (private to the run). Returns the job id.
   */
  submit(command: string, jobName: string, scriptDir: string): Promise<string>;
  status(jobIds: readonly string[]): Promise<Map<string, JobStatus>>;
  /** Stops the jobs; resolves when they are asked to stop (bounded). */
  cancel(jobIds: readonly string[]): Promise<void>;
}

/** Option names every provider takes (its scaling limits). */
export const SCALING_OPTIONS = ["initBlocks", "minBlocks", "maxBlocks", "parallelism", "nodesPerBlock"] as const;

/** Parsl's old names for scaling options. */
export const SCALING_ALIASES: Readonly<Record<string, string>> = { nodes: "nodesPerBlock" };

/** Reads the scaling options of a provider's options. */
export function readScaling(o: Options): Required<ScalingOptions> {
  const r = {
    initBlocks: o.integer("initBlocks", 1, 0),
    minBlocks: o.integer("minBlocks", 0, 0),
    maxBlocks: o.integer("maxBlocks", 1, 0),
    parallelism: o.number("parallelism", 1, { min: 0, max: 1 }),
    nodesPerBlock: o.integer("nodesPerBlock", 1, 1),
  };
  if (r.minBlocks > r.maxBlocks && r.maxBlocks > 0)
    o.fail("minBlocks", `(${r.minBlocks}) exceeds maxBlocks (${r.maxBlocks})`);
  return r;
}

/** A launcher option must have `wrap`; anything else would fail only when the first block starts. */
export function readLauncher(o: Options, dflt: () => Launcher): Launcher {
  const l = o.raw("launcher");
  if (l === undefined) return dflt();
  if (l === null || typeof l !== "object" || typeof (l as Partial<Launcher>).wrap !== "function") {
    o.fail(
      "launcher",
      `must be a launcher (an object with wrap(command, nodesPerBlock)), e.g. new ${dflt().constructor.name}(), got ${describeValue(l)}`,
    );
  }
  return l as Launcher;
}
