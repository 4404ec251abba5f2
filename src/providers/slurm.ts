/**
 * SlurmProvider: a block is an `sbatch` job whose script runs the worker-pool command on each
 * of its nodes (through a launcher, `srun` by default); `scancel` on scale-in. Status comes
 * from `squeue -t all` and, for jobs it no longer lists, `scontrol show job` (no accounting
 * storage is needed, so `sacct` is not used).
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SrunLauncher, type Launcher } from "./launchers.js";
import {
  readLauncher,
  readScaling,
  SCALING_ALIASES,
  SCALING_OPTIONS,
  type ExecutionProvider,
  type JobState,
  type JobStatus,
  type ScalingOptions,
} from "./provider.js";
import { Options, type OptionsSpec } from "../validation.js";

export interface SlurmProviderOptions extends ScalingOptions {
  partition?: string | null;
  account?: string | null;
  qos?: string | null;
  /** "HH:MM:SS" (or any time sbatch --time accepts). Default "00:10:00". */
  walltime?: string;
  /** Whole nodes for the block's jobs (Parsl's default). Default true. */
  exclusive?: boolean;
  /** CPUs per node for the pool (sbatch --cpus-per-task), when not exclusive. */
  coresPerNode?: number | null;
  /** Memory per node in GB (sbatch --mem). */
  memPerNode?: number | null;
  /** Extra lines for the job script's header, e.g. "#SBATCH --constraint=haswell". */
  schedulerOptions?: string;
  /** Bash lines run before the pool starts (module loads, environment). */
  workerInit?: string;
  launcher?: Launcher;
  /** Seconds allowed for one sbatch/squeue/scancel call. Default 30. */
  commandTimeout?: number;
}

const SLURM_STATES: Record<string, JobState> = {
  PENDING: "PENDING",
  CONFIGURING: "PENDING",
  REQUEUED: "PENDING",
  REQUEUE_HOLD: "HELD",
  RESV_DEL_HOLD: "HELD",
  RUNNING: "RUNNING",
  COMPLETING: "RUNNING",
  STAGE_OUT: "RUNNING",
  RESIZING: "RUNNING",
  SIGNALING: "RUNNING",
  SUSPENDED: "HELD",
  STOPPED: "HELD",
  PREEMPTED: "CANCELLED",
  COMPLETED: "COMPLETED",
  CANCELLED: "CANCELLED",
  FAILED: "FAILED",
  BOOT_FAIL: "FAILED",
  NODE_FAIL: "FAILED",
  OUT_OF_MEMORY: "FAILED",
  DEADLINE: "TIMEOUT",
  TIMEOUT: "TIMEOUT",
  SPECIAL_EXIT: "FAILED",
  REVOKED: "CANCELLED",
};

export function slurmStateToJobState(s: string): JobState {
  return SLURM_STATES[s.replace(/[+*].*$/, "").trim()] ?? "UNKNOWN";
}

const SAFE = /^[A-Za-z0-9_.:,=@/+-]*$/;

const SLURM_OPTIONS: OptionsSpec = {
  kind: "SlurmProvider",
  known: [
    ...SCALING_OPTIONS,
    "partition",
    "account",
    "qos",
    "walltime",
    "exclusive",
    "coresPerNode",
    "memPerNode",
    "schedulerOptions",
    "workerInit",
    "launcher",
    "commandTimeout",
  ],
  aliases: {
    ...SCALING_ALIASES,
    cmdTimeout: "commandTimeout",
    time: "walltime",
    mem: "memPerNode",
    cpusPerTask: "coresPerNode",
  },
  elsewhere: {
    constraint: 'pass it as schedulerOptions: "#SBATCH --constraint=…"',
    clusters: 'pass it as schedulerOptions: "#SBATCH --clusters=…"',
  },
};

export class SlurmProvider implements ExecutionProvider {
  readonly label = "slurm";
  readonly initBlocks: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly parallelism: number;
  readonly nodesPerBlock: number;
  private readonly o: Required<Omit<SlurmProviderOptions, keyof ScalingOptions | "launcher">>;
  private readonly launcher: Launcher;

  constructor(opts: SlurmProviderOptions = {}) {
    const o: Options = new Options(SLURM_OPTIONS, opts);
    const s = readScaling(o);
    this.initBlocks = s.initBlocks;
    this.minBlocks = s.minBlocks;
    this.maxBlocks = s.maxBlocks;
    this.parallelism = s.parallelism;
    this.nodesPerBlock = s.nodesPerBlock;
    this.launcher = readLauncher(o, () => new SrunLauncher());
    const plain = { re: SAFE, expected: "a plain Slurm name or value (letters, digits, _.:,=@/+-)" };
    this.o = {
      partition: o.optionalString("partition", plain),
      account: o.optionalString("account", plain),
      qos: o.optionalString("qos", plain),
      walltime: o.string("walltime", "00:10:00", plain),
      exclusive: o.boolean("exclusive", true),
      coresPerNode:
        o.raw("coresPerNode") === null
          ? null
          : o.check<number | null>(
              "coresPerNode",
              null,
              (v) => Number.isInteger(v) && (v as number) > 0,
              "a positive integer or null",
            ),
      memPerNode: o.optionalNumber("memPerNode", { min: 0, above: true }),
      schedulerOptions: o.text("schedulerOptions", ""),
      workerInit: o.text("workerInit", ""),
      commandTimeout: o.number("commandTimeout", 30, { min: 0, above: true, unit: "seconds" }),
    };
  }

  /** The job script for one block (exposed for tests and for users checking their options). */
  jobScript(command: string, jobName: string, scriptDir: string): string {
    const h = [
      "#!/bin/bash",
      `#SBATCH --job-name=${jobName}`,
      `#SBATCH --output=${join(scriptDir, `${jobName}.stdout`)}`,
      `#SBATCH --error=${join(scriptDir, `${jobName}.stderr`)}`,
      `#SBATCH --nodes=${this.nodesPerBlock}`,
      `#SBATCH --ntasks-per-node=1`,
      `#SBATCH --time=${this.o.walltime}`,
    ];
    if (this.o.partition) h.push(`#SBATCH --partition=${this.o.partition}`);
    if (this.o.account) h.push(`#SBATCH --account=${this.o.account}`);
    if (this.o.qos) h.push(`#SBATCH --qos=${this.o.qos}`);
    if (this.o.exclusive) h.push("#SBATCH --exclusive");
    if (this.o.coresPerNode) h.push(`#SBATCH --cpus-per-task=${this.o.coresPerNode}`);
    if (this.o.memPerNode) h.push(`#SBATCH --mem=${Math.ceil(this.o.memPerNode * 1024)}M`);
    if (this.o.schedulerOptions) h.push(this.o.schedulerOptions);
    return `${h.join("\n")}\n\n${this.o.workerInit}\n${this.launcher.wrap(command, this.nodesPerBlock)}\n`;
  }

  async submit(command: string, jobName: string, scriptDir: string): Promise<string> {
    const script = join(scriptDir, `${jobName}.submit`);
    // Holds the run's secret: owner-only.
    writeFileSync(script, this.jobScript(command, jobName, scriptDir), { mode: 0o700 });
    const out = await this.run("sbatch", ["--parsable", script]);
    const id = out.trim().split(";")[0]!;
    if (!/^\d+(_\d+)?$/.test(id))
      throw new Error(`SlurmProvider: sbatch gave no job id (output ${JSON.stringify(out.slice(0, 200))})`);
    return id;
  }

  async status(jobIds: readonly string[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    if (jobIds.length === 0) return out;
    let listed = "";
    try {
      listed = await this.run("squeue", ["-h", "-t", "all", "-j", jobIds.join(","), "-o", "%i %T %r"]);
    } catch {
      // squeue refuses the whole list if one id is unknown to the controller: ask per job below.
    }
    for (const line of listed.split("\n")) {
      const [id, state, ...reason] = line.trim().split(/\s+/);
      if (id && state && jobIds.includes(id))
        out.set(id, { state: slurmStateToJobState(state), message: reason.join(" ") });
    }
    for (const id of jobIds) {
      if (out.has(id)) continue;
      try {
        const text = await this.run("scontrol", ["show", "job", id]);
        const m = /JobState=(\S+)/.exec(text);
        const code = /ExitCode=(\d+):/.exec(text);
        out.set(
          id,
          m ? { state: slurmStateToJobState(m[1]!), exitCode: code ? Number(code[1]) : null } : { state: "MISSING" },
        );
      } catch {
        out.set(id, { state: "MISSING" });
      }
    }
    return out;
  }

  async cancel(jobIds: readonly string[]): Promise<void> {
    if (jobIds.length === 0) return;
    await this.run("scancel", [...jobIds]);
  }

  private run(cmd: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { timeout: this.o.commandTimeout * 1000, encoding: "utf8" }, (err, stdout, stderr) => {
        if (err) {
          const why =
            (err as NodeJS.ErrnoException).code === "ENOENT"
              ? `${cmd} is not installed (is this a Slurm login node?)`
              : stderr.trim() || err.message;
          reject(new Error(`SlurmProvider: ${cmd} ${args.join(" ")} failed: ${why}`));
        } else resolve(stdout);
      });
    });
  }
}
