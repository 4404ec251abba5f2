/**
 * Garbage on the interchange's port (Parsl's test_htex_fuzz_zmq, with 10,000 random frames):
 * every bad frame is dropped and logged, its connection closed, and the executor keeps
 * running tries before and after.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import net from "node:net";
import { serialize } from "node:v8";
import { HighThroughputExecutor } from "../src/executors/htex/executor.js";
import { encodePoolFrame, PoolFrameDecoder } from "../src/executors/htex/poolFrames.js";
import { proofFor } from "../src/executors/htex/protocol.js";
import { LocalProvider } from "../src/providers/local.js";
import { appOf, ofType, recordingHost, registerMessage, tryHandle } from "./htexHarness.js";
import { waitFor } from "./helpers.js";

function triple(x: number): number {
  return 3 * x;
}

/** Random bytes framed correctly, random bytes unframed, or a random (but well-formed) object. */
function randomFrame(kind: number): Buffer {
  switch (kind % 4) {
    case 0:
      return encodePoolFrame(randomBytes(randomInt(0, 512)));
    case 1:
      return randomBytes(randomInt(1, 64));
    case 2:
      return encodePoolFrame(
        Buffer.from(JSON.stringify(registerMessage(randomBytes(32).toString("hex"), randomBytes(16).toString("hex")))),
      );
    default:
      return encodePoolFrame(Buffer.from(JSON.stringify({ t: randomBytes(3).toString("hex"), n: randomInt(1000) })));
  }
}

function randomPostAuthFrame(i: number): Buffer {
  const shapes: unknown[] = [
    { t: "results", items: [{ id: "nope" }], started: [], samples: [] },
    { t: "results", items: [{ id: 1, ok: true, startedAt: 1, endedAt: 2 }], started: [], samples: [] },
    { t: "pong" },
    { t: 42 },
    [1, 2, 3],
    "results",
    null,
    { t: "heartbeat", clock: "soon" },
  ];
  return i % 2 === 0
    ? encodePoolFrame(serialize(shapes[i % shapes.length]))
    : encodePoolFrame(randomBytes(randomInt(1, 256)));
}

/** Opens a connection, optionally authenticates as a pool, sends one frame, waits until the server closes it. */
function oneShot(port: number, frame: Buffer, secret: string | null): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const dec = new PoolFrameDecoder(4096);
    let sent = false;
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 5000);
    s.on("data", (d: Buffer) => {
      if (sent) return;
      const frames = dec.push(d);
      if (frames.length === 0) return;
      sent = true;
      if (secret) {
        const { nonce } = JSON.parse(frames[0]!.toString()) as { nonce: string };
        s.write(
          encodePoolFrame(
            Buffer.from(
              JSON.stringify(
                registerMessage(proofFor(secret, nonce), randomBytes(16).toString("hex"), {
                  uid: randomBytes(6).toString("hex"),
                  hostname: "fuzz",
                  blockId: "fuzz",
                  clock: Date.now() * 1000,
                }),
              ),
            ),
          ),
        );
      }
      s.end(frame); // half-close: a truncated frame must not keep the connection open
    });
    s.on("error", () => {
      /* reset by the server is fine */
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

test(
  "10,000 random frames are dropped and logged at a bounded rate; the executor keeps working",
  { timeout: 90_000 },
  async () => {
    const host = recordingHost({ interval: 0 });
    const startedAt = Date.now();
    const ex = new HighThroughputExecutor({
      maxWorkersPerNode: 2,
      provider: new LocalProvider({ initBlocks: 1 }),
      interchangePortRange: [0, 0],
      strategy: "none",
    });
    await ex.start(host);
    try {
      const before = [tryHandle(appOf(triple), [1]), tryHandle(appOf(triple), [2])];
      for (const h of before) ex.submit(h);
      assert.deepEqual(
        await Promise.all(before.map(async (h) => ((await h.result) as { value: number }).value)),
        [3, 6],
      );

      // The secret as a block receives it: in the environment of its worker-pool command.
      const secret = /PARSL_TS_HTEX_SECRET=([0-9a-f]+)/.exec(ex.workerPoolCommand("x"))![1]!;
      const total = 10_000,
        postAuth = 1_000,
        concurrency = 64;
      let next = 0,
        closed = 0;
      const worker = async (): Promise<void> => {
        while (next < total) {
          const i = next++;
          const ok =
            i < postAuth
              ? await oneShot(ex.port, randomPostAuthFrame(i), secret)
              : await oneShot(ex.port, randomFrame(i), null);
          if (ok) closed++;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
      assert.equal(closed, total, "the server closed every garbage connection");
      const ic = ex.interchangeForTests!;
      // The count is the pool server thread's, posted to the kernel's thread with its next batch.
      await waitFor(() => ic.rejected >= total, { timeoutMs: 5000, what: "every refusal to be counted" });
      assert.equal(ic.rejected, total);
      assert.deepEqual(
        ic.poolViews().map((p) => p.blockId),
        ["0"],
        "only the real pool remains",
      );

      const after = [tryHandle(appOf(triple), [3]), tryHandle(appOf(triple), [4])];
      for (const h of after) ex.submit(h);
      assert.deepEqual(
        await Promise.all(after.map(async (h) => ((await h.result) as { value: number }).value)),
        [9, 12],
      );
    } finally {
      await ex.shutdown();
    }
    // Every dropped connection is accounted for, but folded: per kind (strangers, registered
    // pools), a line for the first of each second and one summary with the count of the rest
    // (10,700 lines a line each grew parsl.log by 1.4 MB).
    const lines = host.logs.filter((l) => l.level === "warning" && /dropped connection|more like this/.test(l.message));
    const folded = lines.reduce((n, l) => n + Number(/(\d+) more like this/.exec(l.message)?.[1] ?? 0), 0);
    const single = lines.filter((l) => !/more like this/.test(l.message)).length;
    assert.equal(single + folded, 10_000, "each dropped connection is counted once");
    assert.ok(
      lines.length <= 2 * 2 * Math.ceil((Date.now() - startedAt) / 1000) + 4,
      `${lines.length} log lines for 10,000 connections`,
    );
    // Fake pools that authenticated and then sent garbage went inactive; the real one stayed active until shutdown.
    const real = ofType(host.events, "node").filter((n) => n.row.block_id === "0");
    assert.ok(real.slice(0, -1).every((n) => n.row.active));
  },
);
