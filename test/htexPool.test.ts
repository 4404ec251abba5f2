/**
 * The worker-pool process on its own, against a minimal interchange written from the protocol:
 * it registers with the right proof and exits when the interchange goes silent beyond the
 * heartbeat threshold.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PoolFrameDecoder, encodePoolFrame } from "../src/executors/htex/poolFrames.js";
import {
  decodeJson,
  encodeJson,
  encodeMessage,
  INTERCHANGE_PROOF_PREFIX,
  newNonce,
  newSecret,
  parseRegister,
  proofFor,
  proofMatches,
  PROTOCOL_VERSION,
  type RegisterMessage,
} from "../src/executors/htex/protocol.js";
import { parseWorkerPoolArgs } from "../src/executors/htex/workerPoolCommand.js";
import { tempDir } from "./helpers.js";

const POOL_MAIN = fileURLToPath(new URL("../src/executors/htex/workerPoolMain.js", import.meta.url));

test(
  "a pool registers with the right proof and exits (after stopping its workers) when its interchange goes silent",
  { timeout: 90_000 },
  async () => {
    const secret = newSecret();
    const nonce = newNonce();
    let registered = null as RegisterMessage | null;
    let heartbeats = 0;
    const server = net.createServer((s) => {
      const dec = new PoolFrameDecoder(1 << 20);
      s.write(encodePoolFrame(encodeJson({ t: "challenge", nonce, v: PROTOCOL_VERSION })));
      s.on("data", (d: Buffer) => {
        for (const f of dec.push(d)) {
          if (!registered) {
            registered = parseRegister(decodeJson(f));
            assert.ok(proofMatches(secret, nonce, registered.proof));
            s.write(
              encodePoolFrame(
                encodeMessage({
                  t: "welcome",
                  proof: proofFor(secret, INTERCHANGE_PROOF_PREFIX + registered.challenge),
                  runId: "r",
                  resourceInterval: 0,
                  resourceMonitoring: false,
                  heartbeatPeriod: 0.2,
                  heartbeatThreshold: 1,
                }),
              ),
            );
          } else {
            heartbeats++; // and never answer
          }
        }
      });
      s.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const child = spawn(
      process.execPath,
      [POOL_MAIN, "--host", "127.0.0.1", "--port", String(port), "--block-id", "7", "--max-workers", "2"],
      {
        env: { ...process.env, PARSL_TS_HTEX_SECRET: secret },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const t0 = Date.now();
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    const took = Date.now() - t0;
    server.close();
    assert.equal(code, 1);
    assert.match(stderr, /interchange silent beyond the heartbeat threshold/);
    assert.ok(took >= 1000 && took < 5000, `exited after ${took} ms`);
    const reg = registered;
    assert.ok(reg, "it registered first");
    assert.equal(reg.blockId, "7");
    assert.equal(reg.workerCount, 2);
    assert.match(reg.uid, /^[0-9a-f]{12}$/);
    assert.ok(heartbeats >= 3, `heartbeats sent: ${heartbeats}`);
  },
);

test("worker-pool arguments: errors name the option; the secret comes only from the environment", () => {
  const env = { PARSL_TS_HTEX_SECRET: "s" };
  const ok = parseWorkerPoolArgs(
    ["--host", "h", "--port", "5000", "--block-id", "3", "--max-workers", "4", "--debug"],
    env,
  );
  assert.deepEqual(
    {
      host: ok.host,
      port: ok.port,
      blockId: ok.blockId,
      maxWorkers: ok.maxWorkers,
      debug: ok.debug,
      secret: ok.secret,
    },
    { host: "h", port: 5000, blockId: "3", maxWorkers: 4, debug: true, secret: "s" },
  );
  assert.throws(() => parseWorkerPoolArgs(["--port", "5000"], env), /--host is required/);
  assert.throws(() => parseWorkerPoolArgs(["--host", "h", "--port", "70000"], env), /--port must be 1\.\.65535/);
  assert.throws(
    () => parseWorkerPoolArgs(["--host", "h", "--port", "1", "--max-workers", "many"], env),
    /--max-workers must be a non-negative number/,
  );
  assert.throws(
    () => parseWorkerPoolArgs(["--host", "h", "--port", "1", "--secret", "x"], env),
    /unknown option --secret/,
  );
  assert.throws(() => parseWorkerPoolArgs(["--host", "h", "--port", "1"], {}), /PARSL_TS_HTEX_SECRET/);
});

test(
  "a pool refuses an impostor interchange (wrong proof) and runs nothing it sends",
  { timeout: 90_000 },
  async () => {
    const secret = newSecret();
    const dir = tempDir("htex-impostor-");
    const marker = join(dir, "ran");
    const server = net.createServer((s) => {
      const dec = new PoolFrameDecoder(1 << 20);
      s.write(encodePoolFrame(encodeJson({ t: "challenge", nonce: newNonce(), v: PROTOCOL_VERSION })));
      s.on("data", (d: Buffer) => {
        for (const f of dec.push(d)) {
          const reg = parseRegister(decodeJson(f));
          // An impostor does not know the secret; it tries anyway and sends work right behind.
          s.write(
            encodePoolFrame(
              encodeMessage({
                t: "welcome",
                proof: proofFor("not the secret", INTERCHANGE_PROOF_PREFIX + reg.challenge),
                runId: "r",
                resourceInterval: 0,
                resourceMonitoring: false,
                heartbeatPeriod: 1,
                heartbeatThreshold: 5,
              }),
            ),
          );
          const source = `function evil(p) { require("node:fs").writeFileSync(p, "x"); return 1; }`;
          s.write(
            encodePoolFrame(
              encodeMessage({
                t: "tasks",
                items: [
                  {
                    id: 1,
                    taskId: 0,
                    tryId: 0,
                    appName: "evil",
                    kind: "ts",
                    sourceId: "e",
                    source,
                    args: [marker],
                    argBytes: 10,
                    options: {
                      inputs: [],
                      outputUrls: [],
                      stdout: null,
                      stderr: null,
                      walltime: null,
                      resourceSpecification: {},
                    },
                  },
                ],
              }),
            ),
          );
        }
      });
      s.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const child = spawn(
      process.execPath,
      [POOL_MAIN, "--host", "127.0.0.1", "--port", String(port), "--max-workers", "1"],
      {
        env: { ...process.env, PARSL_TS_HTEX_SECRET: secret },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
    server.close();
    assert.equal(code, 1);
    assert.match(stderr, /did not prove it knows the run's secret/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(existsSync(marker), false, "nothing the impostor sent was run");
  },
);
