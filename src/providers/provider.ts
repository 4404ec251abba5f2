/**
 * The provider contract: how an executor gets blocks (batch jobs or local processes) that run
 * its worker-pool command. Scaling limits live with the provider, as in Parsl.
 */
import type { BLOCK_STATES } from "../database/schema.js";

export type JobState = (typeof BLOCK_STATES)[number];

/** States after which a job will never run work again. */
export const TERMINAL_JOB_STATES: ReadonlySet<JobState> = new Set(["CANCELLED", "COMPLETED", "FAILED", "TIMEOUT", "MISSING", "SCALED_IN"]);

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

export function scalingDefaults(o: ScalingOptions, who: string): Required<ScalingOptions> {
  const r = {
    initBlocks: o.initBlocks ?? 1, minBlocks: o.minBlocks ?? 0, maxBlocks: o.maxBlocks ?? 1,
    parallelism: o.parallelism ?? 1, nodesPerBlock: o.nodesPerBlock ?? 1,
  };
  for (const k of ["initBlocks", "minBlocks", "maxBlocks", "nodesPerBlock"] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 0) throw new Error(`${who}: ${k} must be a non-negative integer, got ${String(r[k])}`);
  }
  if (r.nodesPerBlock < 1) throw new Error(`${who}: nodesPerBlock must be at least 1`);
  if (r.minBlocks > r.maxBlocks && r.maxBlocks > 0) throw new Error(`${who}: minBlocks (${r.minBlocks}) exceeds maxBlocks (${r.maxBlocks})`);
  if (!(r.parallelism >= 0 && r.parallelism <= 1)) throw new Error(`${who}: parallelism must be between 0 and 1, got ${String(r.parallelism)}`);
  return r;
}
