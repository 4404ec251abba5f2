/**
 * The pool server on a thread of its own. Sockets, TLS, the handshake, framing, decoding and
 * validating messages, and answering heartbeats happen here, so a user's long synchronous code
 * on the kernel's thread neither stalls pools' heartbeats (they would declare the interchange
 * silent and leave) nor costs the kernel's thread the network work. Everything else is posted
 * to the kernel's thread (threadedPoolServer.ts) in one batch per event-loop turn; heartbeats
 * alone wait up to a tenth of a period for company.
 *
 * Protocol with the kernel's thread (structured clone):
 *   in:  arrays of {k:"send", id, payload} {k:"destroy", id} {k:"close", graceMs}
 *   out: {k:"listening", port} {k:"listen-failed", message} {k:"closed-all"}
 *        batches: {k:"batch", rejected, ops: [{k:"reg", id, reg} | {k:"msg", id, m} | {k:"gone", id, why} | {k:"log", message}]}
 */
import { parentPort, workerData } from "node:worker_threads";
import { PoolServer, type PoolLink, type PoolServerOptions } from "./poolServer.js";
import type { PoolMessage, RegisterMessage } from "./protocol.js";

export type ThreadOp =
  | { k: "reg"; id: number; reg: RegisterMessage }
  | { k: "msg"; id: number; m: PoolMessage }
  | { k: "gone"; id: number; why: string }
  | { k: "log"; message: string };

export type ToThread =
  { k: "send"; id: number; payload: Uint8Array } | { k: "destroy"; id: number } | { k: "close"; graceMs: number };

export type FromThread =
  | { k: "listening"; port: number }
  | { k: "listen-failed"; message: string }
  | { k: "closed-all" }
  | { k: "batch"; rejected: number; ops: ThreadOp[] };

if (parentPort) {
  const port = parentPort;
  const opts = workerData as Omit<PoolServerOptions, "log">;
  const links = new Map<number, PoolLink>();
  const uids = new Set<string>();
  let nextId = 1;
  let ops: ThreadOp[] = [];
  let flushQueued = false;
  const push = (op: ThreadOp): void => {
    ops.push(op);
    scheduleFlush();
  };
  // A heartbeat is answered here at once; the kernel's thread needs it only as "heard from",
  // which its liveness checks read once per period. So heartbeats wait up to a tenth of a period
  // (100 ms at most) for a batch that goes anyway, instead of waking the kernel's thread one
  // each: at 1,000 pools and a 1 s period, 10 wake-ups a second instead of 1,000.
  const heartbeatDelayMs = Math.min(100, (opts.welcome.heartbeatPeriod * 1000) / 10);
  let heartbeatFlush: NodeJS.Timeout | null = null;
  const pushHeartbeat = (op: ThreadOp): void => {
    ops.push(op);
    if (!flushQueued && !heartbeatFlush)
      heartbeatFlush = setTimeout(() => {
        heartbeatFlush = null;
        flush();
      }, heartbeatDelayMs).unref();
  };
  let rejectedSent = 0;
  const flush = (): void => {
    flushQueued = false;
    if (ops.length === 0 && server.rejected === rejectedSent) return;
    rejectedSent = server.rejected;
    const out: FromThread = { k: "batch", rejected: server.rejected, ops };
    ops = [];
    port.postMessage(out);
  };
  const scheduleFlush = (): void => {
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  };
  const server: PoolServer = new PoolServer(
    { ...opts, log: (_level, message) => push({ k: "log", message }), onReject: scheduleFlush },
    {
      admit: (reg) => (uids.has(reg.uid) ? `duplicate pool uid ${reg.uid}` : null),
      registered: (link, reg) => {
        const id = nextId++;
        links.set(id, link);
        uids.add(reg.uid);
        push({ k: "reg", id, reg });
        let gone = false;
        return {
          message: (m) => (m.t === "heartbeat" ? pushHeartbeat : push)({ k: "msg", id, m }),
          closed: (why) => {
            if (gone) return;
            gone = true;
            links.delete(id);
            uids.delete(reg.uid);
            push({ k: "gone", id, why });
          },
        };
      },
    },
  );
  // While waiting for the kernel's thread, this thread's loop is kept by the port and the server.
  server.setKeepAlive(true);
  // A batch's frames for one pool leave in one write: each pool's socket is corked until the batch is done.
  const corked = new Set<PoolLink>();
  port.on("message", (batch: ToThread[]) => {
    for (const m of batch) handle(m);
    for (const l of corked) l.uncork();
    corked.clear();
  });
  const handle = (m: ToThread): void => {
    switch (m.k) {
      case "send": {
        const l = links.get(m.id);
        if (!l) break;
        if (!corked.has(l)) {
          corked.add(l);
          l.cork();
        }
        l.sendEncoded(m.payload);
        break;
      }
      case "destroy":
        links.get(m.id)?.destroy();
        break;
      case "close":
        void server.close(m.graceMs).then(() => {
          flush();
          port.postMessage({ k: "closed-all" } satisfies FromThread);
        });
        break;
    }
  };
  server.listen().then(
    (p) => port.postMessage({ k: "listening", port: p } satisfies FromThread),
    (e: unknown) => port.postMessage({ k: "listen-failed", message: (e as Error).message } satisfies FromThread),
  );
}
