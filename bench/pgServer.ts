/**
 * The PostgreSQL server the benchmarks use: PARSL_TS_TEST_PG (an admin URL) if set, else the
 * private loopback server of scripts/postgres/start-server.sh (started if needed).
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export function benchPgAdminUrl(): string {
  return (
    process.env["PARSL_TS_TEST_PG"] ??
    execFileSync("bash", [path.join(ROOT, "scripts/postgres/start-server.sh")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim()
  );
}
