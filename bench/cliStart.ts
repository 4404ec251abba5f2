/**
 * How long a user waits for `parsl-ts tasks` to print, per build of the CLI: each build's
 * executable (`dist/src/cli/parsl-ts.cjs`; `main.js` for builds before it) is started in turn (alternated, so both share the machine's moments) and
 * timed from spawn to its first byte of output, the measure of bench/query.ts. For A/B figures of
 * a change to the command's start (BENCHMARKS.md).
 *
 *   node dist/bench/cliStart.js --db ENDPOINT --run RUN [--cli A/dist/src/cli/parsl-ts.cjs --cli B/…]
 *        [--node /path/to/node] [--rounds 7] [--without-extra-ca]
 *
 * --without-extra-ca unsets NODE_EXTRA_CA_CERTS for the timed processes: a machine that sets it
 * makes every Node process load that certificate bundle at start (50–70 ms on Node 20 here).
 */
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

export interface CliStartOptions {
  /** The executable of each build to compare. */
  clis: string[];
  args: string[];
  node?: string;
  rounds?: number;
  withoutExtraCa?: boolean;
}

export interface CliRun {
  /** The CLI's executable (default: this build's). */
  cli?: string;
  node?: string;
  env?: NodeJS.ProcessEnv;
  /** Time to the first byte on stdout, then stop the process (else: until it exits). */
  firstByte?: boolean;
}

const OWN_CLI = fileURLToPath(new URL("../src/cli/parsl-ts.cjs", import.meta.url));

/** Milliseconds a `parsl-ts` process takes: to its first byte of output, or to its exit (which must be 0). */
export function cliTime(args: string[], run: CliRun = {}): Promise<number> {
  const cli = run.cli ?? OWN_CLI;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(run.node ?? process.execPath, [cli, ...args], {
      env: run.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    let done = false;
    child.stderr.on("data", (d: Buffer) => {
      err += String(d);
    });
    child.stdout.on("data", () => {
      if (!run.firstByte || done) return;
      done = true;
      resolve(performance.now() - t0);
      child.kill();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (done) return;
      if (code !== 0 || run.firstByte) reject(new Error(`parsl-ts ${args.join(" ")}: exit ${code}: ${err}`));
      else resolve(performance.now() - t0);
    });
  });
}

export async function benchCliStart(opts: CliStartOptions): Promise<Record<string, number[]>> {
  const node = opts.node ?? process.execPath;
  const env = { ...process.env };
  if (opts.withoutExtraCa) delete env["NODE_EXTRA_CA_CERTS"];
  const times: Record<string, number[]> = Object.fromEntries(opts.clis.map((c) => [c, []]));
  const rounds = opts.rounds ?? 7;
  for (let r = 0; r <= rounds; r++) {
    for (const cli of opts.clis) {
      const ms = await cliTime(opts.args, { cli, node, env, firstByte: true });
      if (r > 0) times[cli]!.push(ms); // round 0 warms the page cache (and Node ≥ 22's compile cache)
    }
  }
  return times;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const all = (name: string): string[] => argv.flatMap((a, i) => (a === name && argv[i + 1] ? [argv[i + 1]!] : []));
  const one = (name: string): string | undefined => all(name)[0];
  const db = one("--db");
  if (!db) throw new Error("give --db ENDPOINT (and --run RUN)");
  const clis = all("--cli");
  if (clis.length === 0) clis.push(OWN_CLI);
  const args = ["tasks", ...(one("--run") ? [one("--run")!] : []), "--db", db];
  const node = one("--node") ?? process.execPath;
  const times = await benchCliStart({
    clis,
    args,
    node,
    rounds: Number(one("--rounds") ?? 7),
    withoutExtraCa: argv.includes("--without-extra-ca"),
  });
  console.log(
    `parsl-ts ${args.join(" ")} on ${node}${argv.includes("--without-extra-ca") ? ", without NODE_EXTRA_CA_CERTS" : ""}:`,
  );
  for (const [cli, ms] of Object.entries(times)) {
    ms.sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)]!;
    console.log(
      `  ${cli}: median ${median.toFixed(1)} ms, min ${ms[0]!.toFixed(1)}, max ${ms[ms.length - 1]!.toFixed(1)} (${ms.length} runs)`,
    );
  }
}
