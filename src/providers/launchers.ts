/**
 * Launchers wrap the worker-pool command so it runs once per node of a block.
 */
import { Options } from "../validation.js";

export interface Launcher {
  /** `command` is a bash command line; returns a bash command line. */
  wrap(command: string, nodesPerBlock: number): string;
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs the command as is (one node, or the job's first node). */
export class SimpleLauncher implements Launcher {
  constructor(options: Record<string, never> = {}) {
    new Options({ kind: "SimpleLauncher", known: [] }, options); // refuses any option given
  }
  wrap(command: string): string {
    return command;
  }
}

/** Runs one copy per node in the background on the current host and waits for all (local testing of multi-node blocks). */
export class SingleNodeLauncher implements Launcher {
  constructor(options: Record<string, never> = {}) {
    new Options({ kind: "SingleNodeLauncher", known: [] }, options); // refuses any option given
  }
  wrap(command: string, nodesPerBlock: number): string {
    if (nodesPerBlock <= 1) return command;
    return `for i in $(seq 1 ${nodesPerBlock}); do bash -c ${quote(command)} & done; wait`;
  }
}

export interface SrunLauncherOptions {
  /** Extra srun arguments, e.g. "--mpi=pmi2". */
  overrides?: string;
}

/** `srun`: one copy of the command on each node of the Slurm allocation. */
export class SrunLauncher implements Launcher {
  private readonly overrides: string;
  /** Options, or the overrides string alone (`new SrunLauncher("--mpi=pmi2")`). */
  constructor(options: SrunLauncherOptions | string = {}) {
    const o = new Options(
      { kind: "SrunLauncher", known: ["overrides"] },
      typeof options === "string" ? { overrides: options } : options,
    );
    this.overrides = o.text("overrides", "");
  }
  wrap(command: string, nodesPerBlock: number): string {
    return `srun --ntasks=${nodesPerBlock} --ntasks-per-node=1 --nodes=${nodesPerBlock} ${this.overrides} /bin/bash -c ${quote(command)}`;
  }
}

export { quote as shellQuote };
