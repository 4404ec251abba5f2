/**
 * The PostgreSQL server the benchmarks use: PARSL_TS_TEST_PG (an admin URL) if set, else the
 * private loopback server of scripts/postgres/start-server.sh (started if needed).
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

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

/** Database `name` on the server of `adminUrl`, created if missing: its URL, and whether it was created now. */
export async function ensureBenchDatabase(adminUrl: string, name: string): Promise<{ url: string; created: boolean }> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  let created = false;
  try {
    if ((await client.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name])).rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`);
      created = true;
    }
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), created };
}
