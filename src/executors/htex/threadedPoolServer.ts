/**
 * The kernel thread's side of the pool server thread (poolServerThread.ts): the same surface
 * as PoolServer — listen, links with send/destroy, the registered/message/closed callbacks —
 * with every call crossing to the thread. Outgoing frames are encoded here and posted in one
 * batch per microtask checkpoint; incoming messages arrive already decoded and validated.
 */
import type { Worker } from "node:worker_threads";
import { startWorkerThread } from "../../workerThread.js";
import type { PoolHandler, PoolLink, PoolServerEvents, PoolServerOptions } from "./poolServer.js";
import { encodeMessage } from "./protocol.js";
import type { FromThread, ToThread } from "./poolServerThread.js";

const THREAD_MAIN = new URL("./poolServerThread.js", import.meta.url);

export class ThreadedPoolServer {
  private worker: Worker | null = null;
  private readonly handlers = new Map<number, PoolHandler>();
  private readonly links = new Map<number, { closed: boolean }>();
  private out: ToThread[] = [];
  private flushQueued = false;
  private closedAll: (() => void) | null = null;
  port = 0;
  /** Connections refused or dropped for bad data, as of the thread's last batch. */
  rejected = 0;

  constructor(
    private readonly o: PoolServerOptions,
    private readonly ev: Pick<PoolServerEvents, "registered">,
  ) {}

  listen(): Promise<number> {
    const { log: _log, onReject: _onReject, ...data } = this.o;
    const w = startWorkerThread(THREAD_MAIN, { workerData: data, name: `htex ${this.o.label} pool server` });
    this.worker = w;
    w.unref();
    return new Promise((resolve, reject) => {
      w.on("error", (e) => {
        this.o.log("warning", `htex ${this.o.label}: pool server thread failed: ${e.message}`);
        reject(e);
      });
      w.on("message", (m: FromThread) => {
        switch (m.k) {
          case "listening":
            this.port = m.port;
            resolve(m.port);
            break;
          case "listen-failed":
            reject(new Error(m.message));
            break;
          case "closed-all":
            this.closedAll?.();
            break;
          case "batch":
            this.rejected = m.rejected;
            for (const op of m.ops) this.apply(op);
            break;
        }
      });
    });
  }

  private apply(op: Extract<FromThread, { k: "batch" }>["ops"][number]): void {
    switch (op.k) {
      case "reg": {
        const state = { closed: false };
        this.links.set(op.id, state);
        const link: PoolLink = {
          peer: `pool ${op.reg.uid}`,
          get closed() {
            return state.closed;
          },
          send: (msg) => this.post({ k: "send", id: op.id, payload: encodeMessage(msg) }),
          sendEncoded: (payload) => this.post({ k: "send", id: op.id, payload }),
          destroy: () => {
            state.closed = true;
            this.post({ k: "destroy", id: op.id });
          },
          // Batches to the thread are corked per pool there already.
          cork: () => {},
          uncork: () => {},
        };
        this.handlers.set(op.id, this.ev.registered(link, op.reg));
        break;
      }
      case "msg":
        this.handlers.get(op.id)?.message(op.m);
        break;
      case "gone": {
        const h = this.handlers.get(op.id);
        const l = this.links.get(op.id);
        if (l) l.closed = true;
        this.handlers.delete(op.id);
        this.links.delete(op.id);
        h?.closed(op.why);
        break;
      }
      case "log":
        this.o.log("warning", op.message);
        break;
    }
  }

  private post(m: ToThread): void {
    if (m.k === "send" && this.links.get(m.id)?.closed !== false) return;
    this.out.push(m);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        const batch = this.out;
        this.out = [];
        this.worker?.postMessage(batch);
      });
    }
  }

  /** While tries are out, the thread (and its connections) keeps Node alive; otherwise not. */
  setKeepAlive(b: boolean): void {
    if (!this.worker) return;
    if (b) this.worker.ref();
    else this.worker.unref();
  }

  async close(graceMs: number): Promise<void> {
    const w = this.worker;
    if (!w) return;
    await new Promise<void>((resolve) => {
      this.closedAll = resolve;
      w.postMessage([{ k: "close", graceMs }] satisfies ToThread[]);
      w.once("exit", () => resolve());
    });
    await w.terminate();
    this.worker = null;
  }
}
