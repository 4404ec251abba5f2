/**
 * What heartbeats cost at scale: the pool server pings (for the clock offset) with only some
 * heartbeat replies, and a pool that has just sent the interchange something skips its
 * heartbeat. Real sockets, the real PoolServer and the real worker-pool process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { PoolFrameDecoder, encodePoolFrame, writePoolFrame } from "../src/executors/htex/poolFrames.js";
import { CLOCK_RESAMPLE_EVERY, CLOCK_SAMPLES, pingDue, PoolServer } from "../src/executors/htex/poolServer.js";
import { ThreadedPoolServer } from "../src/executors/htex/threadedPoolServer.js";
import {
  decodeJson,
  decodeMessage,
  encodeJson,
  encodeMessage,
  heartbeatDue,
  INTERCHANGE_PROOF_PREFIX,
  newNonce,
  newSecret,
  nowMicros,
  parseInterchangeMessage,
  parseRegister,
  proofFor,
  proofMatches,
  PROTOCOL_VERSION,
  type RegisterMessage,
} from "../src/executors/htex/protocol.js";
import { waitFor } from "./helpers.js";
import { registerMessage } from "./htexHarness.js";

const POOL_MAIN = fileURLToPath(new URL("../src/executors/htex/workerPoolMain.js", import.meta.url));

test("the rules: a ping with the first heartbeats and one in 16 after; a pool's heartbeat only after half a period of quiet", () => {
  const pinged = Array.from({ length: 64 }, (_, i) => i + 1).filter(pingDue);
  assert.deepEqual(pinged, [1, 2, 3, 16, 32, 48, 64]);
  assert.equal(CLOCK_SAMPLES, 3);
  assert.equal(CLOCK_RESAMPLE_EVERY, 16);
  // period 30 s, threshold 120 s (the defaults): quiet for 15 s or more → a heartbeat.
  assert.equal(heartbeatDue(14_999, 30, 120), false);
  assert.equal(heartbeatDue(15_000, 30, 120), true);
  assert.equal(heartbeatDue(Date.now(), 30, 120), true, "a pool that never sent anything");
  // A threshold under four periods leaves too little room for the longer gap: every tick sends one.
  assert.equal(heartbeatDue(0, 30, 119), true);
  assert.equal(heartbeatDue(0, 30, 120), false);
});

/** A pool written from the protocol: registers, then records the type of every message it gets. */
async function rawPool(port: number, secret: string): Promise<{ socket: net.Socket; got: string[] }> {
  const s = net.connect({ host: "127.0.0.1", port });
  const dec = new PoolFrameDecoder(1 << 20);
  const got: string[] = [];
  let challenged = false;
  const myNonce = newNonce();
  s.on("data", (d: Buffer) => {
    for (const f of dec.push(d)) {
      if (!challenged) {
        challenged = true;
        const { nonce } = decodeJson(f) as { nonce: string };
        s.write(
          encodePoolFrame(
            encodeJson(
              registerMessage(proofFor(secret, nonce), myNonce, {
                uid: randomBytes(6).toString("hex"),
                hostname: "hb",
                clock: nowMicros(),
              }),
            ),
          ),
        );
        continue;
      }
      const m = parseInterchangeMessage(decodeMessage(f));
      if (m.t === "welcome") assert.ok(proofMatches(secret, INTERCHANGE_PROOF_PREFIX + myNonce, m.proof));
      got.push(m.t);
    }
  });
  await waitFor(() => got.includes("welcome"), { what: "the welcome" });
  return { socket: s, got };
}

/** Sends `n` heartbeats, each after the reply to the one before. */
async function beat(pool: { socket: net.Socket; got: string[] }, n: number): Promise<void> {
  const before = pool.got.filter((t) => t === "heartbeat").length;
  for (let i = 1; i <= n; i++) {
    writePoolFrame(pool.socket, encodeMessage({ t: "heartbeat", clock: nowMicros() }));
    await waitFor(() => pool.got.filter((t) => t === "heartbeat").length === before + i, {
      what: `reply to heartbeat ${i}`,
    });
  }
}

const serverOptions = (secret: string) => ({
  label: "hb",
  secret,
  address: "127.0.0.1",
  portRange: [0, 0] as const,
  welcome: { runId: "r", resourceInterval: 0, resourceMonitoring: false, heartbeatPeriod: 1, heartbeatThreshold: 120 },
  log: () => {},
});

test("the pool server answers every heartbeat, and pings only with the welcome and the heartbeats pingDue names", async () => {
  const secret = newSecret();
  const heard: string[] = [];
  const server = new PoolServer(serverOptions(secret), {
    admit: () => null,
    registered: () => ({ message: (m) => heard.push(m.t), closed: () => {} }),
  });
  const pool = await rawPool(await server.listen(), secret);
  try {
    const N = 40;
    await beat(pool, N);
    await waitFor(() => heard.filter((t) => t === "heartbeat").length === N, { what: "every heartbeat handed on" });
    const pings = pool.got.filter((t) => t === "ping").length;
    const due = Array.from({ length: N }, (_, i) => i + 1).filter(pingDue).length;
    assert.equal(pings, 1 + due, `pings: ${pool.got.join(" ")}`);
    assert.ok(pings < N / 4, "far fewer pings than heartbeats");
  } finally {
    pool.socket.destroy();
    await server.close(100);
  }
});

test("on its own thread, the pool server hands heartbeats to the kernel's thread in a few batches, not one each", async () => {
  const secret = newSecret();
  let heartbeats = 0,
    turns = 0,
    inTurn = false;
  const server = new ThreadedPoolServer(serverOptions(secret), {
    registered: () => ({
      message: (m) => {
        if (m.t !== "heartbeat") return;
        heartbeats++;
        // Messages of one batch are handed over in one go: count the event-loop turns they came in.
        if (!inTurn) {
          inTurn = true;
          turns++;
          queueMicrotask(() => (inTurn = false));
        }
      },
      closed: () => {},
    }),
  });
  const pool = await rawPool(await server.listen(), secret);
  try {
    // 30 heartbeats, each answered at once by the thread, over some 100s of ms.
    await beat(pool, 30);
    await waitFor(() => heartbeats === 30, { what: "all 30 heartbeats on the kernel's thread" });
    assert.ok(turns <= 10, `30 heartbeats reached the kernel's thread in ${turns} batches`);
  } finally {
    pool.socket.destroy();
    await server.close(100);
  }
});

test(
  "a pool that keeps sending (pongs here) skips its heartbeats, and sends them again once it falls quiet",
  { timeout: 90_000 },
  async () => {
    const secret = newSecret();
    const nonce = newNonce();
    let registered = null as RegisterMessage | null;
    let heartbeats = 0,
      pongs = 0;
    let pinging = true;
    let sock: net.Socket | null = null;
    const server = net.createServer((s) => {
      sock = s;
      const dec = new PoolFrameDecoder(1 << 20);
      s.write(encodePoolFrame(encodeJson({ t: "challenge", nonce, v: PROTOCOL_VERSION })));
      let timer: NodeJS.Timeout | null = null;
      s.on("data", (d: Buffer) => {
        for (const f of dec.push(d)) {
          if (!registered) {
            registered = parseRegister(decodeJson(f));
            assert.ok(proofMatches(secret, nonce, registered.proof));
            writePoolFrame(
              s,
              encodeMessage({
                t: "welcome",
                proof: proofFor(secret, INTERCHANGE_PROOF_PREFIX + registered.challenge),
                runId: "r",
                resourceInterval: 0,
                resourceMonitoring: false,
                heartbeatPeriod: 0.3,
                heartbeatThreshold: 5,
              }),
            );
            // The interchange keeps the pool talking: a ping every 20 ms, each answered with a pong.
            timer = setInterval(() => {
              if (pinging) writePoolFrame(s, encodeMessage({ t: "ping", t0: nowMicros() }));
            }, 20);
            continue;
          }
          const m = decodeMessage(f) as { t: string };
          if (m.t === "pong") pongs++;
          if (m.t === "heartbeat") {
            heartbeats++;
            writePoolFrame(s, encodeMessage({ t: "heartbeat", clock: nowMicros() }));
          }
        }
      });
      s.on("close", () => timer && clearInterval(timer));
      s.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const child = spawn(
      process.execPath,
      [POOL_MAIN, "--host", "127.0.0.1", "--port", String(port), "--block-id", "0", "--max-workers", "1"],
      { env: { ...process.env, PARSL_TS_HTEX_SECRET: secret }, stdio: ["ignore", "ignore", "inherit"] },
    );
    try {
      // 150 pongs ≈ 3 s ≈ 10 heartbeat periods of a pool that is never quiet for half a period.
      await waitFor(() => pongs >= 150, { what: "150 pongs", timeoutMs: 60_000 });
      const whileTalking = heartbeats;
      assert.ok(whileTalking <= 3, `${whileTalking} heartbeats while the pool sent a pong every 20 ms`);
      pinging = false;
      await waitFor(() => heartbeats >= whileTalking + 3, { what: "heartbeats once the pool is quiet" });
    } finally {
      child.kill();
      (sock as net.Socket | null)?.destroy();
      server.close();
    }
  },
);
