/**
 * Simulated worker pools for the HTEX scale benchmark (bench/htexScale.ts): one process plays
 * many pools, each on its own connection, speaking the real pool protocol — challenge, HMAC
 * register, proof-checked welcome, heartbeats, pongs, task batches in, result batches out —
 * but with no worker processes: a try "runs" by being answered at once with a fixed result.
 *
 * It is started by the executor's provider like `parsl-ts worker-pool` (the same arguments and
 * secret in the environment), plus `--pools N` and `--stats-dir DIR`: every second it writes its
 * heartbeat round trips (pool heartbeat → interchange reply) and its own CPU time to DIR/pools-<block id>.json.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { serialize } from "node:v8";
import { PoolFrameDecoder, encodePoolFrame, writePoolFrame } from "../src/executors/htex/poolFrames.js";
import {
  DEFAULT_MAX_FRAME,
  HANDSHAKE_MAX_FRAME,
  INTERCHANGE_PROOF_PREFIX,
  PROTOCOL_VERSION,
  decodeJson,
  decodeMessage,
  encodeJson,
  encodeMessage,
  heartbeatDue,
  newNonce,
  nowMicros,
  parseInterchangeMessage,
  proofFor,
  proofMatches,
  type ResultItem,
} from "../src/executors/htex/protocol.js";
import { SECRET_ENV } from "../src/executors/htex/workerPoolCommand.js";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1]!);
const host = args.get("host")!,
  port = Number(args.get("port")),
  blockId = args.get("block-id")!;
const workers = Number(args.get("max-workers")),
  pools = Number(args.get("pools") ?? 1);
const statsDir = args.get("stats-dir");
const statsFile = statsDir ? `${statsDir}/pools-${blockId}.json` : null;
const secret = process.env[SECRET_ENV] ?? "";
if (!secret || !port || !(workers > 0)) {
  process.stderr.write("htexSimPools: needs --host, --port, --max-workers and the secret in the environment\n");
  process.exit(2);
}

const NOOP_VALUE = serialize(1);
const hbRtts: number[] = [];
let open = 0,
  registered = 0,
  tries = 0;

function simPool(index: number): void {
  const socket = net.connect({ host, port });
  socket.setNoDelay(true);
  open++;
  const decoder = new PoolFrameDecoder(HANDSHAKE_MAX_FRAME);
  const myNonce = newNonce();
  let state: "challenge" | "welcome" | "ready" = "challenge";
  let hbTimer: NodeJS.Timeout | null = null;
  const hbSent: number[] = [];
  let out: ResultItem[] = [];
  let flushQueued = false;
  let lastSent = 0;
  const flush = (): void => {
    flushQueued = false;
    if (out.length === 0 || socket.destroyed) return;
    writePoolFrame(socket, encodeMessage({ t: "results", items: out, started: [], samples: [] }));
    lastSent = Date.now();
    out = [];
  };
  socket.on("data", (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (state === "challenge") {
        const m = decodeJson(f);
        socket.write(
          encodePoolFrame(
            encodeJson({
              t: "register",
              v: PROTOCOL_VERSION,
              proof: proofFor(secret, String(m.nonce)),
              challenge: myNonce,
              uid: `${blockId}-${index}-${randomBytes(3).toString("hex")}`,
              hostname: `sim${blockId}-${index}`,
              blockId,
              workerCount: workers,
              cpuCount: workers,
              totalMemory: 2 ** 34,
              nodeVersion: process.versions.node,
              clock: nowMicros(),
            }),
          ),
        );
        state = "welcome";
        continue;
      }
      const m = parseInterchangeMessage(decodeMessage(f));
      if (state === "welcome") {
        if (m.t !== "welcome" || !proofMatches(secret, INTERCHANGE_PROOF_PREFIX + myNonce, m.proof))
          throw new Error("bad welcome");
        decoder.maxFrameBytes = DEFAULT_MAX_FRAME;
        state = "ready";
        registered++;
        // Spread the pools' heartbeats over the period, as independent hosts would be.
        const period = m.heartbeatPeriod * 1000;
        setTimeout(() => {
          hbTimer = setInterval(() => {
            // The real pool's rule: no heartbeat when results went out within half a period.
            if (!heartbeatDue(Date.now() - lastSent, m.heartbeatPeriod, m.heartbeatThreshold)) return;
            hbSent.push(performance.now());
            writePoolFrame(socket, encodeMessage({ t: "heartbeat", clock: nowMicros() }));
            lastSent = Date.now();
          }, period);
        }, Math.random() * period).unref();
        continue;
      }
      switch (m.t) {
        case "tasks": {
          const now = nowMicros();
          for (const it of m.items) out.push({ id: it.id, ok: true, value: NOOP_VALUE, startedAt: now, endedAt: now });
          tries += m.items.length;
          if (!flushQueued) {
            flushQueued = true;
            setImmediate(flush);
          }
          break;
        }
        case "heartbeat": {
          const sent = hbSent.shift();
          if (sent !== undefined) hbRtts.push(performance.now() - sent);
          break;
        }
        case "ping":
          writePoolFrame(socket, encodeMessage({ t: "pong", t0: m.t0, clock: nowMicros() }));
          lastSent = Date.now();
          break;
        case "shutdown":
          socket.end();
          break;
        case "welcome":
          throw new Error("a second welcome");
      }
    }
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    if (hbTimer) clearInterval(hbTimer);
    if (--open === 0) {
      writeStats();
      process.exit(0);
    }
  });
}

/** Time this process's thread spent ready to run but waiting for a core (Linux schedstat; 0 where absent). */
function runQueueWaitSeconds(): number {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[1]) / 1e9;
  } catch {
    return 0;
  }
}

function writeStats(): void {
  if (!statsFile) return;
  const sorted = [...hbRtts].sort((a, b) => a - b);
  const pick = (q: number): number | null =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]! : null;
  const cpu = process.cpuUsage();
  writeFileSync(
    statsFile,
    JSON.stringify({
      pools,
      registered,
      tries,
      heartbeats: sorted.length,
      hbP50Ms: pick(0.5),
      hbP99Ms: pick(0.99),
      hbMaxMs: pick(1),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      waitSeconds: runQueueWaitSeconds(),
    }),
  );
}

// Connect gradually: a thousand simultaneous handshakes is a thundering herd no real site makes.
let started = 0;
const connectSome = (): void => {
  for (let i = 0; i < 20 && started < pools; i++) simPool(started++);
  if (started < pools) setTimeout(connectSome, 5);
};
connectSome();
setInterval(writeStats, 1000);
process.on("SIGTERM", () => {
  writeStats();
  process.exit(0);
});
