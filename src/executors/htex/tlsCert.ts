/**
 * A self-signed certificate per run for `encrypted: true`. Node cannot create X.509
 * certificates itself, so this uses the `openssl` command (in every Debian base image).
 * Pools pin exactly this certificate (sent to them in their environment), so no CA is
 * involved and the host name is not checked; the run's secret still authenticates pools.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface RunCertificate {
  key: string;
  cert: string;
}

export function makeRunCertificate(dir: string): RunCertificate {
  const keyPath = join(dir, "interchange.key");
  const certPath = join(dir, "interchange.crt");
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyPath,
        "-out",
        certPath,
        "-days",
        "7",
        "-subj",
        "/CN=parsl-ts-htex",
      ],
      { stdio: ["ignore", "ignore", "pipe"], timeout: 20_000 },
    );
    chmodSync(keyPath, 0o600);
  } catch (e) {
    throw new Error(
      `HighThroughputExecutor encrypted=true needs the openssl command to make the run's certificate: ${(e as Error).message}`,
    );
  }
  return { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8") };
}
