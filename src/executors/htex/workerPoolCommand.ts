/**
 * `parsl-ts worker-pool --host H --port P --block-id B [--max-workers N] [--cores-per-worker C]
 *  [--mem-per-worker GB] [--debug]`
 * The secret comes from the environment (PARSL_TS_HTEX_SECRET), never the command line, so it
 * does not show in `ps`; with encryption the interchange's certificate comes in
 * PARSL_TS_HTEX_CERT (base64 PEM).
 */
import { runWorkerPool, type WorkerPoolOptions } from "./workerPool.js";

export const SECRET_ENV = "PARSL_TS_HTEX_SECRET";
export const CERT_ENV = "PARSL_TS_HTEX_CERT";

export class UsageError extends Error {}

export function parseWorkerPoolArgs(argv: readonly string[], env: NodeJS.ProcessEnv): WorkerPoolOptions {
  const vals = new Map<string, string>();
  let debug = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--debug") {
      debug = true;
      continue;
    }
    if (!a.startsWith("--")) throw new UsageError(`worker-pool: unexpected argument ${JSON.stringify(a)}`);
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`worker-pool: ${a} needs a value`);
    vals.set(a.slice(2), v);
  }
  const known = new Set(["host", "port", "block-id", "max-workers", "cores-per-worker", "mem-per-worker"]);
  for (const k of vals.keys()) if (!known.has(k)) throw new UsageError(`worker-pool: unknown option --${k}`);
  const num = (k: string, dflt: number | null): number => {
    const v = vals.get(k);
    if (v === undefined) {
      if (dflt === null) throw new UsageError(`worker-pool: --${k} is required`);
      return dflt;
    }
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0)
      throw new UsageError(`worker-pool: --${k} must be a non-negative number, got ${JSON.stringify(v)}`);
    return n;
  };
  const host = vals.get("host");
  if (!host) throw new UsageError("worker-pool: --host is required");
  const port = num("port", null);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`worker-pool: --port must be 1..65535`);
  const secret = env[SECRET_ENV];
  if (!secret) throw new UsageError(`worker-pool: the environment variable ${SECRET_ENV} must hold the run's secret`);
  const cert = env[CERT_ENV];
  return {
    host,
    port,
    secret,
    blockId: vals.get("block-id") ?? "0",
    maxWorkers: num("max-workers", 0),
    coresPerWorker: num("cores-per-worker", 1),
    memPerWorker: num("mem-per-worker", 0),
    ...(cert ? { certPem: Buffer.from(cert, "base64").toString("utf8") } : {}),
    debug,
  };
}

export async function workerPoolCommand(argv: string[]): Promise<number> {
  let opts: WorkerPoolOptions;
  try {
    opts = parseWorkerPoolArgs(argv, process.env);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  return runWorkerPool(opts);
}
