/**
 * The kernel's monitoring sink. `emit()` only pushes onto an array; every 20 ms (or 4096
 * events) the pending events become one frame appended to the run's journal (journal.ts) with a
 * synchronous write — the kernel never waits for the database, and its memory does not grow with
 * the database's backlog. A writer process (writerSupervisor.ts) stores the journal in order.
 *
 * The parts: this class batches and encodes; JournalAppender owns the file (and holds frames in
 * memory only while the disk refuses them); WriterSupervisor owns the writer process.
 */
import path from "node:path";
import { describeEndpoint, parseEndpoint } from "../database/endpoint.js";
import { encodeFrame } from "./frames.js";
import { JOURNAL_FILE, JournalAppender } from "./journal.js";
import type { MonitoringEvent } from "./messages.js";
import { WriterSupervisor } from "./writerSupervisor.js";

export interface MonitoringWriterOptions {
  endpoint: string;
  runId: string;
  runDir: string;
  debug?: boolean;
  heartbeatSeconds?: number;
  onWarning?: (msg: string) => void;
  /** How long close() waits for a writer that makes no progress (default 30 s); it then finishes alone. */
  closeTimeoutMs?: number;
  /** Frames that a full disk keeps out of the journal wait in memory up to this many bytes (default 256 MiB). */
  heldLimitBytes?: number;
}

const FLUSH_EVENTS = 4096;
const FLUSH_DELAY_MS = 20;
/** While frames wait in memory for disk space, try the journal again this often. */
const HELD_RETRY_MS = 1000;
const HELD_LIMIT_BYTES = 256 * 2 ** 20;
const PREFIX = "parsl-ts monitoring:";

const mib = (bytes: number): string =>
  bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;

export class MonitoringWriter {
  private pending: MonitoringEvent[] = [];
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private counts = { completed: 0, failed: 0 };
  private sentCounts = { completed: 0, failed: 0 };
  private countsDirty = false;
  private closing = false;
  private closed: Promise<void> | null = null;
  /** Events lost because even memory was full while the disk refused the journal. */
  private droppedEvents = 0;
  private heldWarned = false;
  private heldTimer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly opts: MonitoringWriterOptions,
    private readonly journal: JournalAppender,
    private readonly supervisor: WriterSupervisor,
  ) {}

  /**
   * Creates the run's journal and starts the writer; resolves once the database is ready,
   * rejects (naming the path) if the journal or the database cannot be written.
   */
  static async start(opts: MonitoringWriterOptions): Promise<MonitoringWriter> {
    const endpointText = describeEndpoint(parseEndpoint(opts.endpoint)); // throws on a malformed endpoint
    const journal = new JournalAppender(path.join(opts.runDir, JOURNAL_FILE));
    const warn = (m: string): void => report(opts, m);
    let supervisor: WriterSupervisor;
    try {
      supervisor = await WriterSupervisor.start({
        endpoint: opts.endpoint,
        endpointText,
        runId: opts.runId,
        runDir: opts.runDir,
        journal: journal.path,
        debug: opts.debug,
        heartbeatSeconds: opts.heartbeatSeconds,
        closeTimeoutMs: opts.closeTimeoutMs,
        warn,
        note: (m) => process.stderr.write(`${PREFIX} ${m}\n`),
      });
    } catch (err) {
      journal.discard();
      throw err;
    }
    return new MonitoringWriter(opts, journal, supervisor);
  }

  /** The current writer process's pid (changes after a restart); undefined when none runs. */
  get pid(): number | undefined {
    return this.supervisor.pid;
  }

  /** Batches appended to the journal that the database has not yet committed. */
  get unacknowledged(): number {
    return this.seq - this.supervisor.committedSeq;
  }

  /** Bytes of the journal that the database has not yet committed. */
  get backlogBytes(): number {
    return this.journal.bytes - this.supervisor.committed;
  }

  /** The journal's path (removed by the writer once all of it is stored). */
  get journalPath(): string {
    return this.journal.path;
  }

  emit(e: MonitoringEvent): void {
    if (this.closing) return; // after close() there is no writer to take it
    this.pending.push(e);
    if (this.pending.length >= FLUSH_EVENTS) this.flush();
    else if (this.timer === null) this.armTimer();
  }

  setCounts(completed: number, failed: number): void {
    if (completed === this.counts.completed && failed === this.counts.failed) return;
    this.counts = { completed, failed };
    this.countsDirty = completed !== this.sentCounts.completed || failed !== this.sentCounts.failed;
    if (this.countsDirty && this.timer === null) this.armTimer();
  }

  /** Appends everything pending to the journal now, as one batch. */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.closing || (this.pending.length === 0 && !this.countsDirty)) return;
    const events = this.pending;
    this.pending = [];
    if (this.countsDirty) {
      events.push({
        t: "counts",
        tasks_completed_count: this.counts.completed,
        tasks_failed_count: this.counts.failed,
      });
      this.sentCounts = this.counts;
      this.countsDirty = false;
    }
    this.send(events);
  }

  /**
   * Encodes and appends one batch. A batch over the frame size limit is split in two; an event
   * that cannot be encoded (a BigInt, a cycle, a single event over the limit) is dropped alone,
   * with a warning. Never throws: emit() and flush() are called from the kernel's hot path.
   */
  private send(events: MonitoringEvent[]): void {
    let frame: Buffer;
    const drop = (e: MonitoringEvent, err: Error): void =>
      this.warn(
        `dropped a monitoring event that cannot be encoded (${err.message}): type ${String((e as { t?: unknown }).t)}`,
      );
    try {
      frame = encodeFrame({ seq: this.seq + 1, events }, drop);
    } catch (err) {
      if (!(err instanceof RangeError)) {
        this.warn(`dropped a batch of ${events.length} monitoring events: ${(err as Error).message}`); // a bug; never throw here
        return;
      }
      if (events.length > 1) {
        const mid = events.length >> 1;
        this.send(events.slice(0, mid));
        this.send(events.slice(mid));
      } else {
        drop(events[0]!, err);
      }
      return;
    }
    if (
      this.journal.waiting.bytes + frame.length > (this.opts.heldLimitBytes ?? HELD_LIMIT_BYTES) &&
      !this.journal.retry()
    ) {
      this.droppedEvents += events.length;
      return;
    }
    this.seq++;
    if (!this.journal.append(frame)) this.onHeld();
  }

  /** The disk refused the journal: say so once, and keep trying while frames wait in memory. */
  private onHeld(): void {
    if (!this.heldWarned) {
      this.heldWarned = true;
      const why = this.journal.problem?.code ?? this.journal.problem?.message ?? "refused";
      this.warn(
        `cannot append to the monitoring journal ${this.journal.path} (${why}); the workflow continues and its ` +
          `monitoring data waits in memory (${mib(this.journal.waiting.bytes)} so far; ${mib(this.backlogBytes)} more wait in the ` +
          `journal for the database); recording resumes when space returns`,
      );
    }
    if (this.heldTimer !== null) return;
    this.heldTimer = setInterval(() => {
      if (!this.journal.retry()) return;
      clearInterval(this.heldTimer!);
      this.heldTimer = null;
      this.heldWarned = false;
      process.stderr.write(
        `${PREFIX} the monitoring journal ${this.journal.path} takes data again; recording resumed\n`,
      );
    }, HELD_RETRY_MS);
    this.heldTimer.unref();
  }

  /**
   * For a process 'exit' handler, after which nothing asynchronous runs: appends what is
   * pending to the journal. The writer notices the kernel is gone and stores the journal to its end.
   */
  flushAtExit(): void {
    if (!this.closing) this.flush();
    this.journal.retry();
    this.reportNotJournaled();
  }

  /**
   * Appends what is pending, tells the writer where the journal ends, and waits until it has
   * stored it (or was given up, or stalls for the close timeout and is left to finish alone).
   * Never throws.
   */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.flush(); // before `closing` is set: flush() refuses afterwards
    this.closing = true;
    if (this.heldTimer !== null) clearInterval(this.heldTimer);
    this.journal.retry();
    this.reportNotJournaled();
    this.journal.close();
    this.closed = this.supervisor.finish(this.journal.bytes).then(() => this.reportNotStored());
    return this.closed;
  }

  /** Says exactly which monitoring data never reached the journal (a full disk), so is lost. */
  private reportNotJournaled(): void {
    const held = this.journal.waiting;
    if (held.frames === 0 && this.droppedEvents === 0) return;
    this.warn(
      `ERROR: ${held.frames} batches (${mib(held.bytes)}) of monitoring data could not be written to the journal ` +
        `${this.journal.path} (${this.journal.problem?.code ?? "refused"})` +
        (this.droppedEvents > 0
          ? ` and ${this.droppedEvents} more events were dropped once memory for them was full`
          : "") +
        `: they are not recorded`,
    );
  }

  /** Says what the journal holds that the database did not get (a writer given up). */
  private reportNotStored(): void {
    const reason = this.supervisor.gaveUp;
    if (reason === null || this.backlogBytes <= 0) return;
    this.warn(
      `ERROR: ${mib(this.backlogBytes)} of this run's monitoring data was not stored in the database; ` +
        `it waits in ${this.journal.path}`,
    );
  }

  private armTimer(): void {
    this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
    this.timer.unref();
  }

  private warn(message: string): void {
    report(this.opts, message);
  }
}

function report(opts: MonitoringWriterOptions, message: string): void {
  process.stderr.write(`${PREFIX} ${message}\n`);
  try {
    opts.onWarning?.(message);
  } catch {
    /* a failing callback must not break monitoring */
  }
}
