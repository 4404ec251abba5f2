/**
 * The database writer: a child process (started by writerClient.ts with child_process.fork),
 * the only writer of the monitoring database, so the kernel's event loop never waits on SQL.
 *
 *   argv:  --endpoint <db> --run-id <id> --run-dir <dir> --journal <file> [--from <offset>] [--heartbeat <seconds>] [--debug]
 *   input: the journal (journal.ts): frames (frames.ts) of `Batch`es in the binary wire form
 *          (wire.ts), read from byte `--from` on as the kernel appends them; every event is
 *          validated, garbage is dropped and reported.
 *   IPC:   in, `WriterCommand`s — finish {offset}: store the journal up to there, then exit.
 *          out, `WriterReply`s — ready, ack {seq, offset} once everything before offset is
 *          committed, warning, note, error.
 *
 * When the kernel goes away without `finish` (it died) the writer stores the whole journal and
 * marks the run crashed if it never ended. Once all of the journal is stored the writer deletes
 * it. SIGINT/SIGTERM: it stops between transactions; the client starts a new writer from the
 * last acknowledged offset.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { describeEndpoint, parseEndpoint } from "../database/endpoint.js";
import { openStore, PermanentStoreError, type PreparedBatch, type Store } from "../database/store.js";
import { nowMicros } from "../database/timeformat.js";
import { decodeBatch, openPayload } from "./frames.js";
import { JournalTail } from "./journal.js";
import { WRITER_EXIT_FATAL, type MonitoringEvent, type WriterCommand, type WriterReply } from "./messages.js";
import { RateLimitedReporter } from "../rateLimit.js";
import { WriterLog } from "./writerLog.js";

/** Queued frames are merged into one transaction up to this many events. */
const MAX_EVENTS_PER_TRANSACTION = 65_536;
/** While fewer events than this are queued, wait up to GATHER_MS for more before writing. */
const GATHER_EVENTS = 16_384;
const GATHER_MS = 5;
/** Read no further ahead of the database than this many queued events (bounds the writer's memory). */
const READ_AHEAD_EVENTS = 4 * MAX_EVENTS_PER_TRANSACTION;
/**
 * Once the kernel is gone, a writer that stores nothing for this long (a disk that stays full, a
 * lock never released) stops, leaving the journal in place, rather than lingering for ever.
 */
const ORPHAN_PATIENCE_MS = 10 * 60_000;
/** With nothing new in the journal, look again after 1 ms, doubling up to this. */
const IDLE_POLL_MAX_MS = 8;

/**
 * A received frame. It stays in its compact binary form until its transaction is formed: a
 * backlog of decoded events would take several times the memory, and objects that live that
 * long are the expensive kind to garbage-collect.
 */
interface QueuedFrame {
  seq: number;
  count: number;
  payload: Buffer;
  /** Journal offset just after this frame. */
  end: number;
}

function reply(msg: WriterReply): void {
  if (!process.connected || !process.send) return;
  try {
    // With a callback, a failed send (EPIPE: the kernel is gone) is reported there instead of
    // as an 'error' event that would kill the writer before it has written what it received.
    process.send(msg, undefined, undefined, () => {});
  } catch {
    /* the kernel is gone; the disconnect handler takes over */
  }
}

interface WriterOptions {
  endpoint: string;
  runId: string;
  runDir: string;
  journal: string;
  from: number;
  heartbeatSeconds: number;
  debug: boolean;
}

function readOptions(): WriterOptions {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      endpoint: { type: "string" },
      "run-id": { type: "string" },
      "run-dir": { type: "string" },
      journal: { type: "string" },
      from: { type: "string" },
      heartbeat: { type: "string" },
      debug: { type: "boolean" },
    },
    strict: true,
  });
  const need = (name: string, v: string | undefined): string => {
    if (!v) throw new Error(`monitoring writer: missing --${name}`);
    return v;
  };
  const heartbeatSeconds = values.heartbeat === undefined ? 5 : Number(values.heartbeat);
  if (!Number.isFinite(heartbeatSeconds) || heartbeatSeconds <= 0) {
    throw new Error(`monitoring writer: --heartbeat must be a positive number of seconds, got ${values.heartbeat}`);
  }
  const from = values.from === undefined ? 0 : Number(values.from);
  if (!Number.isSafeInteger(from) || from < 0)
    throw new Error(`monitoring writer: --from must be a byte offset, got ${values.from}`);
  return {
    endpoint: need("endpoint", values.endpoint),
    runId: need("run-id", values["run-id"]),
    runDir: need("run-dir", values["run-dir"]),
    journal: need("journal", values.journal),
    from,
    heartbeatSeconds,
    debug: values.debug === true,
  };
}

class Writer {
  private readonly queue: QueuedFrame[] = [];
  private queuedEvents = 0;
  /** When the oldest queued frame arrived (or the last transaction ended), for gathering. */
  private queuedSince = 0;
  private busy = false;
  /** Set once no more input will come: the kernel said where the journal ends, or it is gone. */
  private finishAt: number | null = null;
  private kernelGone = false;
  private eof = false;
  private finished = false;
  private workflowEnded = false;
  private idleMs = 0;
  private lastCommitAt = Date.now();
  /** Journal offset up to which everything is committed. */
  private committed: number;
  private pollTimer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly garbage: RateLimitedReporter;
  private readonly refused: RateLimitedReporter;

  constructor(
    private readonly store: Store,
    private readonly log: WriterLog,
    private readonly journal: JournalTail,
    heartbeatSeconds: number,
  ) {
    this.committed = journal.offset;
    const warn = (m: string): void => {
      log.log("WARNING", m);
      reply({ type: "warning", message: m });
    };
    this.garbage = new RateLimitedReporter((m) => warn(`dropped malformed monitoring data: ${m}`));
    this.refused = new RateLimitedReporter((m) => warn(`a row was not written: ${m}`));
    this.heartbeatTimer = setInterval(() => void this.beat(), heartbeatSeconds * 1000);
    this.heartbeatTimer.unref(); // the journal poll keeps the process alive; the heartbeat must not
  }

  /** The kernel has appended its last frame: store the journal up to `offset`, then exit. */
  finishAtOffset(offset: number): void {
    this.finishAt = offset;
    this.poll();
  }

  /** The kernel is gone (it exited or died): whatever it appended is all there will be. */
  kernelExited(): void {
    if (this.kernelGone || this.finished) return; // also reached through our own disconnect at shutdown
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer); // the run no longer lives
    this.heartbeatTimer = null;
    this.kernelGone = true;
    this.poll();
    const patience = setInterval(() => {
      if (this.finished || Date.now() - this.lastCommitAt < ORPHAN_PATIENCE_MS) return;
      clearInterval(patience);
      this.fail(
        `stored nothing for ${ORPHAN_PATIENCE_MS / 60_000} minutes after the kernel exited; stopping. ` +
          `${this.journal.path} from byte ${this.committed} on is not in the database`,
        WRITER_EXIT_FATAL,
      );
    }, 10_000);
    patience.unref();
  }

  /** Reads what the journal has gained, queues its frames, and schedules the next look. */
  poll(): void {
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    if (this.finished || this.eof) return;
    let got = 0;
    if (this.queuedEvents < READ_AHEAD_EVENTS) {
      let read: ReturnType<JournalTail["read"]>;
      try {
        read = this.journal.read();
      } catch (err) {
        this.fail(`cannot read the monitoring journal ${this.journal.path}: ${(err as Error).message}`);
        return;
      }
      got = read.bytes;
      for (const c of read.corrupt) this.dropped(c);
      for (const f of read.frames) this.decode(f.payload, f.end);
      const atEnd = got === 0 && (this.kernelGone || (this.finishAt !== null && this.journal.offset >= this.finishAt));
      if (atEnd) {
        if (this.journal.partial > 0)
          this.dropped(`${this.journal.partial} bytes of an incomplete frame at the end of the journal`);
        this.eof = true;
      }
    }
    void this.pump();
    if (this.eof) return;
    // Data keeps coming: look again at once. Idle: back off to a few ms (a read of nothing is cheap).
    this.idleMs = got > 0 ? 0 : Math.min(IDLE_POLL_MAX_MS, Math.max(1, this.idleMs * 2));
    this.pollTimer = setTimeout(() => this.poll(), this.idleMs);
  }

  /** Malformed input: every item goes to the debug log, the user sees a rate-limited summary. */
  private dropped(message: string): void {
    this.log.log("DEBUG", `dropped: ${message}`);
    this.garbage.add(message);
  }

  private decode(payload: Buffer, end: number): void {
    let header: { seq: number; count: number };
    try {
      header = openPayload(payload);
    } catch (err) {
      this.dropped((err as Error).message);
      return;
    }
    if (this.queue.length === 0) this.queuedSince = performance.now();
    this.queue.push({ seq: header.seq, count: header.count, payload, end });
    this.queuedEvents += header.count;
  }

  /**
   * Writes queued batches, merging whatever has queued up into one transaction. While a
   * transaction is on the server and a full one's worth of events is queued (the writer lags),
   * the next transaction is decoded and prepared meanwhile, so the writer's CPU work overlaps the
   * server's; it is sent only once the previous one has committed (order and acks as before).
   */
  private async pump(): Promise<void> {
    if (this.busy || this.finished) return;
    this.busy = true;
    /** The transaction on the server: resolves to its error, if it failed. */
    let inflight: Promise<Error | null> | null = null;
    try {
      while (this.queue.length > 0 || inflight) {
        if (inflight && (this.queue.length === 0 || (!this.eof && this.queuedEvents < MAX_EVENTS_PER_TRANSACTION))) {
          // Nothing to get ahead with: let the next transaction gather while this one commits.
          const err = await inflight;
          inflight = null;
          if (err) throw err;
          continue;
        }
        // Bigger transactions are much cheaper per row (hot index pages go to the WAL once), so
        // while the kernel is streaming, give the next frames a few ms to arrive and join in.
        if (
          !inflight &&
          !this.eof &&
          this.queuedEvents < GATHER_EVENTS &&
          performance.now() - this.queuedSince < GATHER_MS
        ) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        let events: MonitoringEvent[] = []; // the frames' events, decoded into it in order
        let lastSeq = -1;
        let firstSeq = -1;
        let end = 0;
        let taken = 0;
        while (this.queue.length > 0 && (taken === 0 || taken + this.queue[0]!.count <= MAX_EVENTS_PER_TRANSACTION)) {
          const f = this.queue.shift()!;
          this.queuedEvents -= f.count;
          taken += f.count;
          // Decoded into one array: concatenating copied the transaction so far once per frame
          // (quadratic; 6% of the writer's CPU with the kernel's 20 ms frames).
          for (const p of decodeBatch(f.payload, events).problems) this.dropped(p);
          if (firstSeq < 0) firstSeq = f.seq;
          lastSeq = f.seq;
          end = f.end;
        }
        const prepared = await this.store.prepare(events);
        const ended = events.some((e) => e.t === "workflow_end");
        events = [];
        if (inflight) {
          const err = await inflight;
          inflight = null;
          if (err) throw err;
        }
        inflight = this.commit(prepared, ended, firstSeq, lastSeq, end).then(
          () => null,
          (err: unknown) => (err instanceof Error ? err : new Error(`write failed: ${String(err)}`)),
        );
      }
      if (this.eof) await this.finish();
    } catch (err) {
      // Only a bug or an unusable database gets here (locks and refused rows are handled in the store).
      if (err instanceof PermanentStoreError) this.fail(err.message, WRITER_EXIT_FATAL);
      else this.fail(`monitoring writer failed: ${(err as Error).stack ?? String(err)}`);
    } finally {
      this.busy = false;
    }
  }

  /** Writes one prepared transaction, then acknowledges everything up to `end`. */
  private async commit(
    prepared: PreparedBatch,
    ended: boolean,
    firstSeq: number,
    lastSeq: number,
    end: number,
  ): Promise<void> {
    const t0 = performance.now();
    const outcome = await this.store.applyPrepared(prepared);
    if (ended) this.workflowEnded = true;
    for (const r of outcome.rejected) this.refused.add(r);
    reply({ type: "ack", seq: lastSeq, offset: end });
    this.lastCommitAt = Date.now();
    this.committed = end;
    if (this.log.debugging) {
      this.log.log(
        "DEBUG",
        `batches ${firstSeq}..${lastSeq}: ${prepared.events} events, ${outcome.rows} row writes in ${(performance.now() - t0).toFixed(1)} ms`,
      );
    }
    // Read what was appended during the transaction before forming the next one.
    this.queuedSince = performance.now();
    if (this.queuedEvents < READ_AHEAD_EVENTS / 2) this.poll();
    await new Promise((r) => setImmediate(r));
  }

  /** Stops on an error: the supervisor starts a new writer, unless the code says a restart cannot help. */
  private fail(msg: string, exitCode = 1): void {
    this.log.log("ERROR", msg);
    reply({ type: "error", message: msg });
    process.exitCode = exitCode;
    this.shutdown();
  }

  private async beat(): Promise<void> {
    try {
      await this.store.heartbeat(nowMicros());
    } catch (err) {
      this.log.log("WARNING", `heartbeat not written: ${(err as Error).message}`);
    }
  }

  private async finish(): Promise<void> {
    this.finished = true;
    if (!this.workflowEnded) {
      // The kernel went away without ending the run: it crashed or was killed.
      if (await this.store.markCrashed(nowMicros())) {
        this.log.log("WARNING", "input ended before the workflow ended: the run is marked crashed");
      }
    }
    await this.store.checkpoint();
    // Everything in the journal is stored: it has done its job.
    fs.rmSync(this.journal.path, { force: true });
    const cpu = process.cpuUsage();
    const mib = (n: number): string => `${Math.round(n / 2 ** 20)} MiB`;
    const mem = process.memoryUsage();
    this.log.log(
      "INFO",
      `input ended; the journal is stored and removed; exiting (CPU time ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, ` +
        `peak RSS ${mib(process.resourceUsage().maxRSS * 1024)}, heap ${mib(mem.heapUsed)} of ${mib(mem.heapTotal)})`,
    );
    process.exitCode = 0;
    this.shutdown();
  }

  /** Stops between transactions: closes the database and lets the process exit. */
  shutdown(): void {
    this.finished = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.garbage.flush();
    this.refused.flush();
    this.store.close();
    this.journal.close();
    this.log.close();
    if (process.connected) process.disconnect();
  }
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof readOptions>;
  try {
    opts = readOptions();
  } catch (err) {
    reply({ type: "error", message: (err as Error).message });
    process.exitCode = 2;
    if (process.connected) process.disconnect();
    return;
  }
  const log = new WriterLog(opts.runDir, opts.debug);
  let store: Store;
  try {
    const endpoint = parseEndpoint(opts.endpoint);
    log.log("INFO", `starting: run ${opts.runId}, endpoint ${describeEndpoint(endpoint)}`);
    store = await openStore(endpoint, opts.runId, {
      warning: (m) => {
        log.log("WARNING", m);
        reply({ type: "warning", message: m });
      },
      note: (m) => {
        log.log("INFO", m);
        reply({ type: "note", message: m });
      },
    });
    log.log("INFO", `schema ready in ${describeEndpoint(endpoint)}`);
  } catch (err) {
    const msg = (err as Error).message;
    log.log("ERROR", msg);
    reply({ type: "error", message: msg });
    log.close();
    process.exitCode = 1;
    if (process.connected) process.disconnect();
    return;
  }
  let journal: JournalTail;
  try {
    journal = new JournalTail(opts.journal, opts.from);
  } catch (err) {
    const msg = `cannot open the monitoring journal: ${(err as Error).message}`;
    log.log("ERROR", msg);
    reply({ type: "error", message: msg });
    store.close();
    log.close();
    process.exitCode = 1;
    if (process.connected) process.disconnect();
    return;
  }
  const writer = new Writer(store, log, journal, opts.heartbeatSeconds);
  process.on("uncaughtException", (err) => {
    // A bug: record it where the user looks, then exit; the client restarts the writer and resends.
    const msg = `monitoring writer crashed: ${err.stack ?? String(err)}`;
    log.log("ERROR", msg);
    reply({ type: "error", message: msg });
    process.exit(70);
  });
  for (const sig of ["SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP"] as const) {
    process.on(sig, () => {
      // Handlers run between event-loop turns, so no transaction is open here.
      log.log("WARNING", `received ${sig}; stopping (a new writer resumes from the last acknowledged offset)`);
      writer.shutdown();
      process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 } as const)[sig]);
    });
  }
  process.on("message", (m: WriterCommand) => {
    if (m?.type === "finish" && Number.isSafeInteger(m.offset) && m.offset >= 0) writer.finishAtOffset(m.offset);
  });
  process.on("disconnect", () => writer.kernelExited());
  if (!process.connected) writer.kernelExited(); // started by hand, or the kernel is already gone
  reply({ type: "ready" });
  writer.poll();
}

void main();
