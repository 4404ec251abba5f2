import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { LocalProvider } from "../src/providers/local.js";
import { appOf, recordingHost, tryHandle } from "./htexHarness.js";
import { waitFor } from "./helpers.js";

function hello(name: string): string {
  return `hello ${name}`;
}

test(
  "encrypted: true runs tries over TLS with a per-run certificate; plain TCP is refused",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const ex = new HighThroughputExecutor({
      encrypted: true,
      maxWorkersPerNode: 1,
      provider: new LocalProvider({ initBlocks: 1 }),
      interchangePortRange: [0, 0],
    });
    await ex.start(host);
    try {
      const h = tryHandle(appOf(hello), ["tls"]);
      ex.submit(h);
      assert.deepEqual(((await h.result) as { value: string }).value, "hello tls");
      // The private key stays owner-only in the run directory.
      assert.equal(statSync(join(host.runDir, "htex", "interchange.key")).mode & 0o077, 0);
      const cert = readFileSync(join(host.runDir, "htex", "interchange.crt"), "utf8");
      assert.match(cert, /BEGIN CERTIFICATE/);
      // A TLS client pinning the run's certificate gets the challenge frame.
      const challenge = await new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: "127.0.0.1", port: ex.port, ca: cert, checkServerIdentity: () => undefined });
        s.once("data", (d: Buffer) => {
          resolve(d.subarray(4).toString());
          s.destroy();
        });
        s.once("error", reject);
      });
      assert.match(challenge, /"t":"challenge"/);
      // Plain TCP bytes never reach the protocol: the TLS handshake fails and is logged.
      const before = ex.interchangeForTests!.rejected;
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: "127.0.0.1", port: ex.port }, () =>
          s.write(Buffer.from("\x00\x00\x00\x05hello")),
        );
        s.on("error", () => resolve());
        s.on("close", () => resolve());
      });
      // Counts and log lines come from the pool server's thread: wait for the refusal's own line.
      await waitFor(() => host.logs.some((l) => /TLS handshake failed/.test(l.message)), {
        timeoutMs: 5000,
        what: "the plain connection's refusal to be logged",
      });
      assert.ok(ex.interchangeForTests!.rejected > before);
      const again = tryHandle(appOf(hello), ["again"]);
      ex.submit(again);
      assert.deepEqual(((await again.result) as { value: string }).value, "hello again");
    } finally {
      await ex.shutdown();
    }
  },
);
