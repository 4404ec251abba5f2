/**
 * The interchange's network side: the TCP (or TLS) server that worker pools connect to. It
 * owns listening (within a port range), the HMAC handshake (challenge → register → welcome),
 * pool-protocol framing, refusing garbage with rate-limited log lines, and whether connections
 * keep Node alive. It knows nothing of tries: a registered connection becomes a `PoolLink`,
 * and every later message is handed to the interchange's callbacks. Liveness is answered here:
 * a pool's heartbeat gets a heartbeat back as soon as it is read, so when this server runs on
 * its own thread (poolServerThread.ts) pools are answered even while the kernel's thread is
 * busy. Some replies also carry a ping, whose pong the interchange uses for the clock offset
 * (`pingDue`): not every one, since each ping costs both sides a frame and a pong.
 */
import net from "node:net";
import tls from "node:tls";
import { RateLimitedReporter } from "../../rateLimit.js";
import { encodePoolFrame, PoolFrameDecoder, writePoolFrame } from "./poolFrames.js";
import {
  decodeJson,
  decodeMessage,
  encodeJson,
  encodeMessage,
  HANDSHAKE_MAX_FRAME,
  DEFAULT_MAX_FRAME,
  INTERCHANGE_PROOF_PREFIX,
  newNonce,
  nowMicros,
  parsePoolMessage,
  parseRegister,
  proofFor,
  proofMatches,
  PROTOCOL_VERSION,
  type PoolMessage,
  type RegisterMessage,
  type WelcomeMessage,
} from "./protocol.js";

/** A registered pool's connection, as the interchange sees it. */
export interface PoolLink {
  readonly peer: string;
  readonly closed: boolean;
  send(msg: object): void;
  /** Sends an already-encoded message. */
  sendEncoded(payload: Uint8Array): void;
  /** Closes at once (the close callback follows). */
  destroy(): void;
  /** Frames sent between cork() and uncork() leave in one write. */
  cork(): void;
  uncork(): void;
}

export interface PoolServerOptions {
  label: string;
  secret: string;
  address: string;
  /** Inclusive range to pick the listening port from; [0, 0] = any free port. */
  portRange: readonly [number, number];
  tls?: { key: string; cert: string };
  /** What the welcome says besides the proof. */
  welcome: Omit<WelcomeMessage, "t" | "proof">;
  log: (level: "warning", message: string) => void;
  /** Called after each refused or dropped connection (the count is `rejected`). */
  onReject?: () => void;
}

export interface PoolHandler {
  message(m: PoolMessage): void;
  /** Called once or more when the connection is gone or dropped; `why` is for the log. */
  closed(why: string): void;
}

export interface PoolServerEvents {
  /** A pool proved the secret: a reason to refuse it anyway (a duplicate uid), or null. */
  admit(reg: RegisterMessage): string | null;
  /** It was welcomed: from now on its messages go to the handler returned. */
  registered(link: PoolLink, reg: RegisterMessage): PoolHandler;
}

/** The first heartbeats of a pool that get a ping with their reply (besides the one after the welcome). */
export const CLOCK_SAMPLES = 3;
/** After those, one heartbeat reply in this many carries a ping, to follow a drifting clock. */
export const CLOCK_RESAMPLE_EVERY = 16;

/**
 * Whether the reply to a pool's `n`-th heartbeat (1, 2, …) carries a ping. The interchange
 * keeps the offset of the lowest round trip seen, so a few samples early and one now and then
 * are as good as one per heartbeat; a ping per heartbeat doubled the frames that heartbeats
 * cost (at 1,000 pools and a 1 s period, 2,000 more frames a second through this server and
 * the kernel's thread).
 */
export function pingDue(n: number): boolean {
  return n <= CLOCK_SAMPLES || n % CLOCK_RESAMPLE_EVERY === 0;
}

/** Sockets already refused (and logged), so closing them is not reported twice. */
const refused = new WeakSet<net.Socket>();

export class PoolServer {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private closing = false;
  private keepAlive = false;
  port = 0;
  /** Connections refused or dropped for bad data (for tests and logs). */
  rejected = 0;
  /**
   * Refused and dropped connections, by kind (failed TLS handshakes, strangers that never
   * registered, registered pools that sent garbage): anyone can reach the port, so a flood is
   * folded into a line a second per kind (with counts) instead of a line each.
   */
  private readonly droppedLog: Record<"tls" | "stranger" | "pool", RateLimitedReporter>;

  constructor(
    private readonly o: PoolServerOptions,
    private readonly ev: PoolServerEvents,
  ) {
    const reporter = (): RateLimitedReporter =>
      new RateLimitedReporter((m) => o.log("warning", `htex ${o.label}: ${m}`));
    this.droppedLog = { tls: reporter(), stranger: reporter(), pool: reporter() };
  }

  async listen(): Promise<number> {
    const onConn = (s: net.Socket): void => this.accept(s);
    const server = this.o.tls
      ? tls.createServer({ key: this.o.tls.key, cert: this.o.tls.cert }, onConn)
      : net.createServer(onConn);
    // A failed TLS handshake is garbage too: log and keep serving.
    server.on("tlsClientError", (e: Error) => {
      this.rejected++;
      this.o.onReject?.();
      this.droppedLog.tls.add(`TLS handshake failed: ${e.message}`);
    });
    this.server = server;
    const [lo, hi] = this.o.portRange;
    const candidates: number[] = [];
    if (lo === 0 && hi === 0) candidates.push(0);
    else for (let i = 0; i < 50; i++) candidates.push(lo + Math.floor(Math.random() * (hi - lo + 1)));
    let lastErr: Error | null = null;
    for (const p of candidates) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(p, this.o.address, () => {
            server.off("error", reject);
            resolve();
          });
        });
        this.port = (server.address() as net.AddressInfo).port;
        if (!this.keepAlive) server.unref(); // an idle executor does not keep Node alive (see setKeepAlive)
        return this.port;
      } catch (e) {
        lastErr = e as Error;
      }
    }
    throw new Error(
      `htex ${this.o.label}: cannot listen on ${this.o.address} in port range ${lo}-${hi}: ${lastErr?.message}`,
    );
  }

  /**
   * Connections keep Node alive only while tries are out, so a run that forgets cleanup()
   * still ends (its pools then see the connection close and exit). While tries are out,
   * waiting for a pool to connect must keep Node alive too.
   */
  setKeepAlive(b: boolean): void {
    this.keepAlive = b;
    if (this.server) {
      if (b) this.server.ref();
      else this.server.unref();
    }
    for (const s of this.sockets) {
      if (b) s.ref();
      else s.unref();
    }
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.setNoDelay(true);
    if (!this.keepAlive) socket.unref();
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const decoder = new PoolFrameDecoder(HANDSHAKE_MAX_FRAME);
    const nonce = newNonce();
    let handler: PoolHandler | null = null;
    let who = "";
    let heartbeats = 0;
    const authTimer = setTimeout(() => this.refuse(socket, peer, "no registration within 10 s"), 10_000);
    authTimer.unref();
    const link: PoolLink = {
      peer,
      get closed() {
        return socket.destroyed;
      },
      send: (msg) => {
        if (!socket.destroyed) writePoolFrame(socket, encodeMessage(msg));
      },
      sendEncoded: (payload) => {
        if (!socket.destroyed) writePoolFrame(socket, payload);
      },
      destroy: () => socket.destroy(),
      cork: () => socket.cork(),
      uncork: () => socket.uncork(),
    };
    const fail = (why: string): void => {
      this.refuse(socket, peer, why, who);
      handler?.closed(`it sent bad data (${why})`);
    };

    socket.write(encodePoolFrame(encodeJson({ t: "challenge", nonce, v: PROTOCOL_VERSION })));
    socket.on("data", (chunk: Buffer) => {
      if (socket.destroyed) return;
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        return fail((e as Error).message);
      }
      for (const f of frames) {
        if (socket.destroyed) return;
        let msg: PoolMessage;
        try {
          if (!handler) {
            const reg = parseRegister(decodeJson(f));
            if (!proofMatches(this.o.secret, nonce, reg.proof))
              return this.refuse(socket, peer, "wrong secret (authentication failed)");
            const refusal = this.ev.admit(reg);
            if (refusal !== null) return this.refuse(socket, peer, refusal);
            clearTimeout(authTimer);
            decoder.maxFrameBytes = DEFAULT_MAX_FRAME;
            who = ` (pool ${reg.uid}, block ${reg.blockId})`;
            socket.cork();
            link.send({
              t: "welcome",
              proof: proofFor(this.o.secret, INTERCHANGE_PROOF_PREFIX + reg.challenge),
              ...this.o.welcome,
            });
            link.send({ t: "ping", t0: nowMicros() });
            socket.uncork();
            handler = this.ev.registered(link, reg);
            continue;
          }
          msg = parsePoolMessage(decodeMessage(f));
          if (msg.t === "heartbeat") {
            socket.cork();
            link.send({ t: "heartbeat", clock: nowMicros() });
            if (pingDue(++heartbeats)) link.send({ t: "ping", t0: nowMicros() });
            socket.uncork();
          }
        } catch (e) {
          return fail((e as Error).message);
        }
        handler.message(msg);
      }
    });
    socket.on("error", () => {
      /* reported through close */
    });
    socket.on("close", () => {
      clearTimeout(authTimer);
      this.sockets.delete(socket);
      if (!refused.has(socket) && (!handler || decoder.pendingBytes > 0)) {
        this.rejected++;
        this.o.onReject?.();
        this.droppedLog[handler ? "pool" : "stranger"].add(
          `dropped connection from ${peer}: closed ${handler ? `inside a frame (${decoder.pendingBytes} bytes dropped)` : "before registering"}`,
        );
      }
      handler?.closed("its connection closed");
    });
  }

  private refuse(socket: net.Socket, peer: string, why: string, who = ""): void {
    if (refused.has(socket)) return;
    refused.add(socket);
    this.rejected++;
    this.o.onReject?.();
    this.droppedLog[who ? "pool" : "stranger"].add(`dropped connection from ${peer}${who}: ${why}`);
    socket.destroy();
  }

  /** Waits at most `graceMs` for pools to close their connections, then closes the rest and the server. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    const deadline = Date.now() + graceMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    for (const r of Object.values(this.droppedLog)) r.flush(); // the count of what was folded since the last summary
  }
}
