/**
 * LocalProvider: a block is a bash process on this machine, in its own process group so
 * cancelling it stops the pool and every worker and command under it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SingleNodeLauncher, type Launcher } from "./launchers.js";
import {
  readLauncher,
  readScaling,
  SCALING_ALIASES,
  SCALING_OPTIONS,
  type ExecutionProvider,
  type JobStatus,
  type ScalingOptions,
} from "./provider.js";
import { Options, type OptionsSpec } from "../validation.js";

export interface LocalProviderOptions extends ScalingOptions {
  launcher?: Launcher;
  /** Bash lines run before the pool starts (e.g. environment set-up). */
  workerInit?: string;
  /** Seconds to wait after SIGTERM before SIGKILL on cancel. Default 2. */
  cancelGrace?: number;
}

const LOCAL_OPTIONS: OptionsSpec = {
  kind: "LocalProvider",
  known: [...SCALING_OPTIONS, "launcher", "workerInit", "cancelGrace"],
  aliases: SCALING_ALIASES,
};

interface LocalJob {
  proc: ChildProcess;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  cancelled: boolean;
}

export class LocalProvider implements ExecutionProvider {
  readonly label = "local";
  readonly initBlocks: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly parallelism: number;
  readonly nodesPerBlock: number;
  private readonly launcher: Launcher;
  private readonly workerInit: string;
  private readonly cancelGrace: number;
  private readonly jobs = new Map<string, LocalJob>();

  constructor(o: LocalProviderOptions = {}) {
    const opts: Options = new Options(LOCAL_OPTIONS, o);
    const s = readScaling(opts);
    this.initBlocks = s.initBlocks;
    this.minBlocks = s.minBlocks;
    this.maxBlocks = s.maxBlocks;
    this.parallelism = s.parallelism;
    this.nodesPerBlock = s.nodesPerBlock;
    this.launcher = readLauncher(opts, () => new SingleNodeLauncher());
    this.workerInit = opts.text("workerInit", "");
    this.cancelGrace = opts.number("cancelGrace", 2, { min: 0, unit: "seconds" });
  }

  async submit(command: string, jobName: string, scriptDir: string): Promise<string> {
    const script = join(scriptDir, `${jobName}.sh`);
    // The command carries the run's secret: the script is readable by its owner only.
    writeFileSync(script, `#!/bin/bash\n${this.workerInit}\n${this.launcher.wrap(command, this.nodesPerBlock)}\n`, {
      mode: 0o700,
    });
    const out = openSync(join(scriptDir, `${jobName}.stdout`), "a");
    const err = openSync(join(scriptDir, `${jobName}.stderr`), "a");
    const proc = spawn("/bin/bash", [script], { detached: true, stdio: ["ignore", out, err] });
    closeSync(out);
    closeSync(err);
    if (proc.pid === undefined) {
      throw new Error(`LocalProvider: could not start block script ${script}`);
    }
    const job: LocalJob = { proc, exit: null, cancelled: false };
    proc.on("exit", (code, signal) => (job.exit = { code, signal }));
    proc.on("error", () => (job.exit = job.exit ?? { code: 127, signal: null }));
    proc.unref();
    const id = String(proc.pid);
    this.jobs.set(id, job);
    return id;
  }

  async status(jobIds: readonly string[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    for (const id of jobIds) {
      const j = this.jobs.get(id);
      if (!j) out.set(id, { state: "MISSING" });
      else if (!j.exit) out.set(id, { state: "RUNNING" });
      else if (j.cancelled) out.set(id, { state: "CANCELLED", exitCode: j.exit.code });
      else out.set(id, { state: j.exit.code === 0 ? "COMPLETED" : "FAILED", exitCode: j.exit.code });
    }
    return out;
  }

  async cancel(jobIds: readonly string[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const id of jobIds) {
      const j = this.jobs.get(id);
      if (!j || j.exit) continue;
      j.cancelled = true;
      const pgid = -Number(id);
      try {
        process.kill(pgid, "SIGTERM");
      } catch {
        /* already gone */
      }
      waits.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            try {
              process.kill(pgid, "SIGKILL");
            } catch {
              /* gone */
            }
            resolve();
          }, this.cancelGrace * 1000);
          j.proc.once("exit", () => {
            clearTimeout(timer);
            // Sweep stragglers of the group (workers still exiting).
            try {
              process.kill(pgid, "SIGKILL");
            } catch {
              /* gone */
            }
            resolve();
          });
        }),
      );
    }
    await Promise.all(waits);
  }
}
