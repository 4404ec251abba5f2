/**
 * Messages between the interchange (submit side) and worker pools, and their validation.
 *
 * Handshake (small size limit on both sides until it succeeds; both sides prove the secret):
 *   interchange -> pool  {t:"challenge", nonce}                                        (JSON)
 *   pool -> interchange  {t:"register", proof: HMAC(secret, nonce), challenge, ...}     (JSON)
 *   interchange -> pool  {t:"welcome", proof: HMAC(secret, "interchange:" + challenge), ...}
 * The pool runs code it is sent, so it must know it talks to the real interchange, not to
 * whoever listens on that port now: it accepts nothing before the welcome's proof matches.
 * After the handshake every frame is a v8-serialized message (Buffers pass through
 * without copies into strings). Every decoded message is checked by `parsePoolMessage` /
 * `parseInterchangeMessage` before use: anything else is garbage.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import type { WireOptions } from "../../apps/runtime.js";
import type { WireError } from "../../apps/errorWire.js";
import { isResourceSample, type ResourceSample } from "../../monitoring/recorder.js";
import type { Micros } from "../../vocabulary/time.js";
import type { SourceOrigin } from "../base.js";

export const PROTOCOL_VERSION = 1;
export const HANDSHAKE_MAX_FRAME = 4096;
export const DEFAULT_MAX_FRAME = 256 * 1024 * 1024;
/**
 * The largest argument list or result one try may carry: what fits in a frame with room for
 * the message around it. Bigger values are refused for their own try, never sent (a frame over
 * the limit would make the receiver drop the whole connection, and with it every try on it).
 */
export const MAX_VALUE_BYTES = DEFAULT_MAX_FRAME - 64 * 1024;

/** "123.4 MiB", for messages about sizes. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

// ---------------------------------------------------------------- auth

export function newSecret(): string {
  return randomBytes(32).toString("hex");
}

export function newNonce(): string {
  return randomBytes(24).toString("hex");
}

export function proofFor(secret: string, nonce: string): string {
  return createHmac("sha256", secret).update(nonce).digest("hex");
}

/** Domain separation: the interchange's proof can never be replayed as a pool's, or back. */
export const INTERCHANGE_PROOF_PREFIX = "interchange:";

export function proofMatches(secret: string, nonce: string, proof: unknown): boolean {
  if (typeof proof !== "string" || proof.length !== 64) return false;
  const want = Buffer.from(proofFor(secret, nonce), "hex");
  const got = Buffer.from(proof, "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

// ---------------------------------------------------------------- message shapes

export interface RegisterMessage {
  t: "register";
  v: number;
  proof: string;
  /** The pool's nonce, which the interchange must answer in its welcome. */
  challenge: string;
  uid: string;
  hostname: string;
  blockId: string;
  workerCount: number;
  cpuCount: number;
  totalMemory: number;
  nodeVersion: string;
  clock: Micros;
}

export interface ChallengeMessage {
  t: "challenge";
  nonce: string;
  v: number;
}

export interface WelcomeMessage {
  t: "welcome";
  /** HMAC(secret, INTERCHANGE_PROOF_PREFIX + the pool's challenge). */
  proof: string;
  runId: string;
  /** Seconds between resource samples; 0 = no sampling. */
  resourceInterval: number;
  resourceMonitoring: boolean;
  heartbeatPeriod: number;
  heartbeatThreshold: number;
}

/** One try as the pool receives it. `source` is sent once per pool per `sourceId`. */
export interface TaskItem {
  id: number;
  taskId: number;
  tryId: number;
  appName: string;
  kind: "ts" | "bash";
  sourceId: string;
  source?: string;
  /** Where `source` begins in the user's file; sent with `source`. */
  origin?: SourceOrigin;
  args: unknown[];
  /** The interchange's estimate of the arguments' size, for batching. */
  argBytes: number;
  options: WireOptions;
}

export interface TasksMessage {
  t: "tasks";
  items: TaskItem[];
}
export interface PingMessage {
  t: "ping";
  t0: Micros;
}
export interface ShutdownMessage {
  t: "shutdown";
}
export interface HeartbeatMessage {
  t: "heartbeat";
  clock: Micros;
}

export type InterchangeMessage = WelcomeMessage | TasksMessage | PingMessage | ShutdownMessage | HeartbeatMessage;

/**
 * The worker process running a try died (killed, crashed, exited) before answering: not an
 * error the body raised, so it is its own kind on the wire, never guessed from an error's name.
 */
export interface WorkerLostWire {
  message: string;
  /** Its exit code, or 128 + the signal that killed it. */
  exitCode?: number;
}

/** One finished try. Times are the pool host's clock. When not ok, exactly one of `error` and `lost`. */
export interface ResultItem {
  id: number;
  ok: boolean;
  /** v8-serialized value when ok. */
  value?: Uint8Array;
  /** What the body threw. */
  error?: WireError;
  lost?: WorkerLostWire;
  startedAt: Micros;
  endedAt: Micros;
  /** The try-end resource sample, when resource monitoring is on. */
  sample?: ResourceSample;
}

/** Resource columns of spec §2.5 (without run/task/try ids): derived from schema.ts by the recorder. */
export type { ResourceSample };

export interface StartedItem {
  id: number;
  at: Micros;
}
export interface PeriodicSample {
  id: number;
  sample: ResourceSample;
}

export interface ResultsMessage {
  t: "results";
  items: ResultItem[];
  started: StartedItem[];
  samples: PeriodicSample[];
}
export interface PongMessage {
  t: "pong";
  t0: Micros;
  clock: Micros;
}
export type PoolMessage = ResultsMessage | PongMessage | HeartbeatMessage;

// ---------------------------------------------------------------- liveness

/**
 * Whether a pool's heartbeat tick sends a heartbeat, `msSinceSent` after it last sent the
 * interchange anything. The interchange takes any message as a sign of life, so a pool that
 * sent results (or a pong) within the last half period skips it: a busy pool then costs neither
 * heartbeat frames nor the interchange's replies (at 1,000 pools and a 1 s period, 2,000 frames
 * a second, each a write and a read on both sides). The gap between two messages then reaches
 * 1.5 periods instead of 1; the interchange stops sending to a pool silent for half its
 * threshold, so the rule holds only when the threshold is at least four periods (the default,
 * 120 s to 30 s): with less room every tick sends a heartbeat, as before. `period` and
 * `threshold` are the welcome's, in seconds.
 */
export function heartbeatDue(msSinceSent: number, period: number, threshold: number): boolean {
  return threshold < 4 * period || msSinceSent >= (period * 1000) / 2;
}

// ---------------------------------------------------------------- codecs

export function encodeJson(msg: object): Buffer {
  return Buffer.from(JSON.stringify(msg), "utf8");
}

export function encodeMessage(msg: object): Buffer {
  return serialize(msg);
}

/** Decodes a post-handshake frame; throws ProtocolError on anything that is not a message. */
export function decodeMessage(frame: Buffer): Record<string, unknown> {
  let msg: unknown;
  try {
    msg = deserialize(frame);
  } catch (e) {
    throw new ProtocolError(`undecodable frame (${(e as Error).message})`);
  }
  if (!isRecord(msg) || typeof msg.t !== "string") throw new ProtocolError("frame is not a message object with a type");
  return msg;
}

export function decodeJson(frame: Buffer): Record<string, unknown> {
  let msg: unknown;
  try {
    msg = JSON.parse(frame.toString("utf8"));
  } catch {
    throw new ProtocolError("handshake frame is not JSON");
  }
  if (!isRecord(msg) || typeof msg.t !== "string") throw new ProtocolError("handshake frame is not a message object");
  return msg;
}

// ---------------------------------------------------------------- validation

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
const isInt = (x: unknown): x is number => Number.isSafeInteger(x);
const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const isStr = (x: unknown, max = 4096): x is string => typeof x === "string" && x.length <= max;

function need(cond: boolean, what: string): void {
  if (!cond) throw new ProtocolError(`invalid message: ${what}`);
}

export function parseRegister(m: Record<string, unknown>): RegisterMessage {
  need(m.t === "register", "expected register");
  need(m.v === PROTOCOL_VERSION, `protocol version ${String(m.v)} (want ${PROTOCOL_VERSION})`);
  need(isStr(m.proof, 128), "register.proof");
  need(isStr(m.challenge, 128) && m.challenge.length >= 32, "register.challenge");
  need(isStr(m.uid, 64) && m.uid.length > 0, "register.uid");
  need(isStr(m.hostname, 255) && m.hostname.length > 0, "register.hostname");
  need(isStr(m.blockId, 64), "register.blockId");
  need(isInt(m.workerCount) && m.workerCount > 0 && m.workerCount <= 4096, "register.workerCount");
  need(isInt(m.cpuCount) && m.cpuCount >= 0, "register.cpuCount");
  need(isNum(m.totalMemory) && m.totalMemory >= 0, "register.totalMemory");
  need(isStr(m.nodeVersion, 64), "register.nodeVersion");
  need(isNum(m.clock), "register.clock");
  return m as unknown as RegisterMessage;
}

/** Every column present with the right type (extra keys are ignored: only these are copied). */
function validSample(s: unknown): boolean {
  return isResourceSample(s, 64);
}

function validError(e: unknown): boolean {
  return (
    isRecord(e) &&
    isStr(e.name, 1024) &&
    typeof e.message === "string" &&
    (e.stack === undefined || typeof e.stack === "string") &&
    (e.exitCode === undefined || isInt(e.exitCode)) &&
    (e.walltime === undefined || isNum(e.walltime)) &&
    (e.appName === undefined || typeof e.appName === "string") &&
    (e.type === undefined || isStr(e.type, 1024))
  );
}

function validLost(l: unknown): boolean {
  return isRecord(l) && typeof l.message === "string" && (l.exitCode === undefined || isInt(l.exitCode));
}

function validOrigin(o: unknown): boolean {
  return (
    isRecord(o) &&
    isStr(o.file, 4096) &&
    isInt(o.line) &&
    o.line >= 1 &&
    o.line <= 10_000_000 &&
    isInt(o.column) &&
    o.column >= 1 &&
    o.column <= 100_000
  );
}

function validStream(x: unknown): boolean {
  return x === null || (isRecord(x) && typeof x.path === "string" && (x.mode === "w" || x.mode === "a"));
}

function validOptions(o: unknown): boolean {
  return (
    isRecord(o) &&
    Array.isArray(o.inputs) &&
    Array.isArray(o.outputUrls) &&
    o.outputUrls.every((u) => typeof u === "string") &&
    validStream(o.stdout) &&
    validStream(o.stderr) &&
    (o.walltime === null || (isNum(o.walltime) && o.walltime > 0)) &&
    isRecord(o.resourceSpecification)
  );
}

export function parsePoolMessage(m: Record<string, unknown>): PoolMessage {
  switch (m.t) {
    case "results": {
      need(Array.isArray(m.items) && Array.isArray(m.started) && Array.isArray(m.samples), "results lists");
      for (const r of m.items as unknown[]) {
        need(
          isRecord(r) && isInt(r.id) && typeof r.ok === "boolean" && isNum(r.startedAt) && isNum(r.endedAt),
          "result item",
        );
        const it = r as Record<string, unknown>;
        if (it.ok) need(it.value instanceof Uint8Array, "result value");
        else if (it.lost !== undefined) need(it.error === undefined && validLost(it.lost), "result worker-lost");
        else need(validError(it.error), "result error");
        need(it.sample === undefined || validSample(it.sample), "result sample");
      }
      for (const s of m.started as unknown[]) need(isRecord(s) && isInt(s.id) && isNum(s.at), "started item");
      for (const s of m.samples as unknown[]) need(isRecord(s) && isInt(s.id) && validSample(s.sample), "sample item");
      return m as unknown as ResultsMessage;
    }
    case "pong":
      need(isNum(m.t0) && isNum(m.clock), "pong times");
      return m as unknown as PongMessage;
    case "heartbeat":
      need(isNum(m.clock), "heartbeat clock");
      return m as unknown as HeartbeatMessage;
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(String(m.t)).slice(0, 40)}`);
  }
}

export function parseInterchangeMessage(m: Record<string, unknown>): InterchangeMessage {
  switch (m.t) {
    case "welcome":
      need(
        isStr(m.proof, 128) &&
          isStr(m.runId, 128) &&
          isNum(m.resourceInterval) &&
          typeof m.resourceMonitoring === "boolean",
        "welcome",
      );
      need(isNum(m.heartbeatPeriod) && isNum(m.heartbeatThreshold), "welcome heartbeat");
      return m as unknown as WelcomeMessage;
    case "tasks":
      need(Array.isArray(m.items), "tasks.items");
      for (const it of m.items as unknown[]) {
        need(isRecord(it) && isInt(it.id) && isInt(it.taskId) && isInt(it.tryId), "task ids");
        const t = it as Record<string, unknown>;
        need(
          typeof t.appName === "string" && (t.kind === "ts" || t.kind === "bash") && typeof t.sourceId === "string",
          "task app",
        );
        need(t.source === undefined || typeof t.source === "string", "task source");
        need(t.origin === undefined || validOrigin(t.origin), "task source origin");
        need(Array.isArray(t.args) && isInt(t.argBytes) && validOptions(t.options), "task args/options");
      }
      return m as unknown as TasksMessage;
    case "ping":
      need(isNum(m.t0), "ping.t0");
      return m as unknown as PingMessage;
    case "heartbeat":
      need(isNum(m.clock), "heartbeat clock");
      return m as unknown as HeartbeatMessage;
    case "shutdown":
      return m as unknown as ShutdownMessage;
    default:
      throw new ProtocolError(`unknown message type ${JSON.stringify(String(m.t)).slice(0, 40)}`);
  }
}

// ---------------------------------------------------------------- small shared helpers

/** The one clock (vocabulary/time.ts); re-exported for the pool, worker and interchange modules. */
export { nowMicros } from "../../vocabulary/time.js";
