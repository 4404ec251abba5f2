/**
 * The DataFlowKernel: turns app calls into tasks, waits for their dependencies, launches
 * tries on executors, applies retries and memoization, and reports every state change to
 * monitoring. One kernel per `load()`.
 *
 * Task life (spec §3): pending → [launched → (running → running_ended)] → exec_done
 *   | fail_retryable → pending (next try) | failed | dep_fail | memo_done | joining → exec_done/failed
 */
import { randomUUID } from "node:crypto";
import path from "node:path";
import type { AppSpec, CallOptions, Submitter } from "../apps/app.js";
import { setCurrentKernel } from "../apps/current.js";
import type { StreamTarget } from "../apps/definition.js";
import { File } from "../apps/files.js";
import {
  AppFuture,
  DataFuture,
  isKernelFuture,
  isThenable,
  rejectFuture,
  resolveFuture,
  whenDone,
} from "../apps/futures.js";
import type { Config, TaskRecordView } from "../config.js";
import { describeEndpoint, parseEndpoint } from "../database/endpoint.js";
import {
  DependencyError,
  JoinError,
  MemoizationError,
  ParslError,
  TaskCancelled,
  UnknownExecutorError,
  reprError,
} from "../errors.js";
import type { Executor, ExecutorHost, InvocationOptions, TryHandle, TryResult, WhereRan } from "../executors/base.js";
import { INTERNAL_EXECUTOR_LABEL } from "../executors/base.js";
import { InProcessExecutor } from "../executors/inProcess.js";
import type { MonitoringEvent, TryColumns } from "../monitoring/messages.js";
import { Recorder, type FinalState } from "../monitoring/recorder.js";
import { startMonitoringSink, type MonitoringSink } from "../monitoring/sink.js";
import type { AppProgress } from "../progress/render.js";
import type { RunStatus, StateName } from "../vocabulary/states.js";
import { nowMicros, type Micros } from "../vocabulary/time.js";
import { checkCallOptions, cleanupWaits, type CleanupOptions } from "./callOptions.js";
import { callShape, hashsum, lineageHash } from "./hashing.js";
import { joinDefinition, unboxJoinResult } from "./joinApps.js";
import { RunLifecycle } from "./lifecycle.js";
import { Memoizer, type MemoOutcome } from "./memoizer.js";
import { KernelProgress, type Bucket } from "./progress.js";
import { reprValue } from "./repr.js";
import { makeRunDir } from "./rundir.js";
import { RunLog } from "./runLog.js";
import { formatRunSummary } from "./runSummary.js";
import { streamColumn, streamTarget } from "./streams.js";
import { failureColumns, streamMark, type StreamMarks } from "./tryForensics.js";

export type { CleanupOptions };

/** A dependency that is not a kernel future (a plain promise): its outcome once settled. */
interface ForeignDep {
  settled: boolean;
  ok: boolean;
  value: unknown;
  error: Error | null;
}

interface TaskRecord {
  readonly id: number;
  readonly app: AppSpec;
  readonly future: AppFuture<unknown>;
  readonly args: unknown[];
  readonly call: CallOptions<readonly unknown[]>;
  readonly executor: string;
  readonly outputs: File[];
  readonly stdout: StreamTarget | null;
  readonly stderr: StreamTarget | null;
  /** Kernel futures and plain promises this task waits on. */
  readonly deps: unknown[];
  foreign: Map<unknown, ForeignDep> | null;
  depsPending: number;
  state: StateName;
  tryId: number;
  failCount: number;
  failCost: number;
  failHistory: string[];
  hashsum: string | null;
  tryLaunched: Micros | null;
  tryRunning: Micros | null;
  /** Last timestamp given to one of this task's events (keeps its rows causally ordered). */
  lastTs: Micros;
  /** The handle of the current try; stale callbacks from older tries are ignored. */
  handle: TryHandle | null;
  /** Where the current try's stream output begins (set at launch when monitoring and streams are on). */
  marks: StreamMarks | null;
  /** The current try's host, reported by its worker, while not yet written to its try row. */
  tryHost: string | null;
  /** Config.progress: the app's counters (null when off) and the bucket this task is counted in. */
  prog: AppProgress | null;
  bucket: Bucket;
}

/** Starts a kernel made by `load()` (the kernel's private #start; src/index.ts does not export it); assigned in its static block. */
export let startKernel: (k: DataFlowKernel) => Promise<void>;

export class DataFlowKernel implements Submitter {
  readonly runId = randomUUID();
  readonly config: Config;
  /** This run's directory, `<runDir>/NNN` (absolute). */
  readonly runDir: string;
  readonly timeBegan: Micros;
  #log: RunLog;
  #sink: MonitoringSink | null = null;
  /** Turns this kernel's facts into monitoring events (null without monitoring). */
  #recorder: Recorder | null = null;
  #recordRunning = false; // record running/running_ended and try host/block
  #memo: Memoizer;
  #executors = new Map<string, Executor>();
  #userLabels: string[];
  #tasks = new Map<number, TaskRecord>();
  #nextId = 0;
  #outstanding = 0;
  #idleWaiters: Array<() => void> = [];
  #counts = { exec_done: 0, failed: 0, dep_fail: 0, memo_done: 0 };
  /** Tasks the run's interruption stopped or never started (they keep their last state). */
  #cancelled = 0;
  /** cleanup({ wait: false }) (or a signal) has begun: nothing more is launched. */
  #interrupting = false;
  /** While cleanup() waits for tasks: ends that wait early (a signal arrived). */
  #stopWaiting: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  #runStatus: RunStatus | null = null;
  #lifecycle = new RunLifecycle({
    interrupt: (sig) => this.#interrupt(sig),
    idle: () => void this.cleanup(),
    exit: (code) => this.#atExit(code),
  });
  /** The run's workflow_end event has been emitted (by cleanup or at process exit). */
  #endEmitted = false;
  /** The monitoring database's endpoint (null without monitoring), for the end-of-run line. */
  #database: string | null = null;
  #summaryPrinted = false;
  /** Config.progress (null when off). */
  #progress: KernelProgress | null = null;

  /** Use `load(config)`. */
  constructor(config: Config) {
    this.config = config;
    this.runDir = makeRunDir(config.runDir);
    this.timeBegan = nowMicros();
    this.#log = new RunLog(path.join(this.runDir, "parsl.log"), config.logLevel);
    this.#memo = new Memoizer(
      {
        memoize: config.appCache,
        checkpointMode: config.checkpointMode,
        checkpointPeriod: config.checkpointPeriod,
        checkpointFiles: config.checkpointFiles,
      },
      (level, msg) => this.#log.write(level, msg),
    );
    this.#userLabels = config.executors.map((e) => e.label);
  }

  static {
    // load() (src/index.ts) starts a kernel; user code cannot (start is private).
    startKernel = (k) => k.#start();
  }

  async #start(): Promise<void> {
    const c = this.config;
    this.#log.write("info", `parsl-ts run ${this.runId} starting in ${this.runDir}`);
    const hub = c.monitoring;
    if (hub) {
      const endpoint = hub.loggingEndpoint ?? path.resolve(c.runDir, "monitoring.db");
      const parsed = parseEndpoint(endpoint);
      this.#database = parsed.kind === "postgresql" ? describeEndpoint(parsed) : endpoint; // for the log and the end-of-run line: no password
      this.#sink = await startMonitoringSink({
        endpoint,
        runId: this.runId,
        runDir: this.runDir,
        debug: hub.monitoringDebug,
        heartbeatSeconds: hub.heartbeatPeriod,
        onWarning: (msg) => this.#log.write("warning", `monitoring: ${msg}`),
      });
      this.#recorder = new Recorder(this.#sink);
      this.#recordRunning = hub.resourceMonitoringEnabled;
      this.#recorder.runStarted({
        workflowName: hub.workflowName,
        workflowVersion: hub.workflowVersion,
        timeBegan: this.timeBegan,
        rundir: this.runDir,
        heartbeatPeriod: hub.heartbeatPeriod,
      });
      this.#log.write("info", `monitoring to ${this.#database}`);
    }
    this.#memo.start(this.runDir, c.runDir);

    const host = this.#executorHost();
    const internal = new InProcessExecutor({ label: INTERNAL_EXECUTOR_LABEL });
    for (const ex of [internal, ...c.executors]) {
      await ex.start(host);
      this.#executors.set(ex.label, ex);
      this.#log.write("info", `executor ${ex.label} started`);
    }
    if (c.progress) {
      this.#progress = new KernelProgress(`run ${this.runId.slice(0, 8)}`);
      this.#progress.start();
    }
    this.#lifecycle.install(c.handleSignals);
  }

  /**
   * `process.exit()` before cleanup() has finished (a script's own exit, a second Ctrl-C): only
   * synchronous code runs from here on, so the run's end and every event not yet in the
   * journal are written now; the writer, a process of its own, stores them after this one is
   * gone. Tasks still outstanding make the run `interrupted`; a non-zero exit code (an uncaught
   * error, `process.exit(1)`) with none outstanding makes it `failed`.
   */
  #atExit(code: number): void {
    const status =
      this.#runStatus ?? (this.#outstanding > 0 ? "interrupted" : code !== 0 ? "failed" : this.#endStatus());
    this.#printSummary(status);
    if (!this.#sink) return;
    if (!this.#endEmitted) this.#emitEnd(status);
    this.#sink.flushAtExit();
  }

  /** SIGINT/SIGTERM: end the run without waiting for tasks. */
  #interrupt(sig: NodeJS.Signals): Promise<void> {
    this.#runStatus = "interrupted";
    this.#log.write("warning", `received ${sig}: ending the run`);
    process.stderr.write(`parsl-ts: received ${sig}, ending run ${this.runId} (again to exit at once)\n`);
    this.#stopWaiting?.(); // cleanup() may already be waiting for tasks: stop waiting
    return this.cleanup({ wait: false });
  }

  /** The end-of-run line on stderr (Config.summary), once. */
  #printSummary(status: RunStatus): void {
    this.#progress?.stop(status); // the final progress view goes before the summary line
    this.#progress = null;
    if (this.#summaryPrinted || !this.config.summary) return;
    this.#summaryPrinted = true;
    const line = formatRunSummary({
      runId: this.runId,
      status,
      seconds: (nowMicros() - this.timeBegan) / 1e6,
      counts: this.#counts,
      cancelled: this.#cancelled + this.#outstanding,
      database: this.#database, // outstanding: at a process.exit() before cleanup
    });
    process.stderr.write(line + "\n");
  }

  /** How the run ended when nothing stopped it: `failed` if any task failed or could not run. */
  #endStatus(): RunStatus {
    return this.#counts.failed + this.#counts.dep_fail > 0 ? "failed" : "completed";
  }

  /** Emits the run's workflow_end (once: by cleanup, or at process exit). */
  #emitEnd(status: RunStatus): void {
    this.#endEmitted = true;
    this.#recorder?.runEnded(status, nowMicros(), this.#counts.exec_done, this.#counts.failed);
  }

  #executorHost(): ExecutorHost {
    const hub = this.config.monitoring;
    return {
      runId: this.runId,
      runDir: this.runDir,
      monitoring: {
        enabled: hub !== null,
        resourceMonitoringEnabled: hub?.resourceMonitoringEnabled ?? false,
        resourceMonitoringInterval: hub?.resourceMonitoringInterval ?? 0,
      },
      emit: (e: MonitoringEvent) => this.#sink?.emit(e),
      log: (level, message) => this.#log.write(level, message),
    };
  }

  // ---------------------------------------------------------------- submission

  submit<R>(app: AppSpec, args: unknown[], call: CallOptions<readonly unknown[]>): AppFuture<R> {
    if (this.#closing) throw new ParslError(`app '${app.name}' was called after the kernel began cleanup()`);
    checkCallOptions(app.name, call);
    const id = this.#nextId++;
    const executor = this.#chooseExecutor(app);
    const outputs = (call.outputs ?? []).map((o) => (o instanceof File ? o : new File(String(o))));
    const stdout = streamTarget(call.stdout, this.runDir, id, app.name, "stdout");
    const stderr = streamTarget(call.stderr, this.runDir, id, app.name, "stderr");

    const deps: unknown[] = [];
    for (const a of args) if (isThenable(a)) deps.push(a);
    if (call.inputs) for (const a of call.inputs as unknown[]) if (isThenable(a)) deps.push(a);

    const lineage = this.#recorder ? lineageHash(callShape(app, args, call, outputs)) : null;
    const future = new AppFuture<R>(id, app.name, lineage);
    for (const f of outputs) future.outputs.push(new DataFuture(future, f));

    const now = nowMicros();
    const rec: TaskRecord = {
      id,
      app,
      future,
      args,
      call,
      executor,
      outputs,
      stdout,
      stderr,
      deps,
      foreign: null,
      depsPending: 0,
      state: "pending",
      tryId: 0,
      failCount: 0,
      failCost: 0,
      failHistory: [],
      hashsum: null,
      tryLaunched: null,
      tryRunning: null,
      lastTs: now,
      handle: null,
      marks: null,
      tryHost: null,
      prog: null,
      bucket: "pending",
    };
    if (this.#progress) {
      rec.prog = this.#progress.app(app.name);
      rec.prog.pending++;
    }
    this.#tasks.set(id, rec);
    this.#outstanding++;

    if (this.#recorder) {
      const dependsOn: number[] = [];
      for (const d of deps) if (isKernelFuture(d)) dependsOn.push(d.taskId);
      this.#recorder.submitted(rec, {
        appName: app.name,
        memoize: app.cache,
        dependsOn,
        inputs: call.inputs === undefined ? null : reprValue(call.inputs),
        args: reprValue(args),
        outputs: call.outputs === undefined ? null : reprValue(outputs),
        stdin: call.stdin ?? null,
        stdout: streamColumn(call.stdout, stdout),
        stderr: streamColumn(call.stderr, stderr),
        invoked: now,
        lineageHash: lineage,
      });
    }
    if (this.#log.enabled("debug"))
      this.#log.write(
        "debug",
        `task ${id} (${app.name}) submitted for executor ${executor}, ${deps.length} dependencies`,
      );

    for (const d of deps) {
      rec.depsPending++;
      if (isKernelFuture(d)) {
        whenDone(d, () => this.#depDone(rec));
      } else {
        const slot: ForeignDep = { settled: false, ok: false, value: undefined, error: null };
        (rec.foreign ??= new Map()).set(d, slot);
        (d as PromiseLike<unknown>)
          .then(
            (v) => Object.assign(slot, { settled: true, ok: true, value: v }),
            (e) =>
              Object.assign(slot, { settled: true, ok: false, error: e instanceof Error ? e : new Error(String(e)) }),
          )
          .then(() => this.#depDone(rec));
      }
    }
    if (rec.depsPending === 0) this.#launch(rec);
    return future;
  }

  #chooseExecutor(app: AppSpec): string {
    if (app.join) return INTERNAL_EXECUTOR_LABEL;
    const choices = app.executors === "all" ? this.#userLabels : app.executors;
    if (choices.length === 1) return choices[0]!;
    return choices[Math.floor(Math.random() * choices.length)] ?? this.#userLabels[0]!;
  }

  // ---------------------------------------------------------------- launching

  #depDone(rec: TaskRecord): void {
    if (--rec.depsPending === 0) this.#launch(rec);
  }

  #launch(rec: TaskRecord): void {
    if (rec.state !== "pending") return;
    if (this.#interrupting) {
      this.#cancel(rec, new TaskCancelled(`task ${rec.id} (${rec.app.name}) never ran: the run was interrupted`));
      return;
    }
    // Dependencies that failed make this a dep_fail, never a launch.
    const failed: Array<readonly [Error, string]> = [];
    for (const d of rec.deps) {
      if (isKernelFuture(d)) {
        const e = d.exception();
        if (e) failed.push([e, `task ${d.taskId}`]);
      } else {
        const s = rec.foreign!.get(d)!;
        if (!s.ok) failed.push([s.error!, "future"]);
      }
    }
    if (failed.length > 0) {
      this.#tryFailed(rec, new DependencyError(failed, rec.id), nowMicros());
      return;
    }
    const resolve = (v: unknown): unknown =>
      isKernelFuture(v) ? v.resultNow() : isThenable(v) ? rec.foreign!.get(v)!.value : v;
    const args = rec.deps.length > 0 ? rec.args.map(resolve) : rec.args;
    const inputs = rec.call.inputs === undefined ? [] : (rec.call.inputs as unknown[]).map(resolve);
    if (this.#recorder && rec.deps.length > 0) {
      this.#recorder.argumentsResolved(
        rec,
        rec.call.inputs !== undefined ? reprValue(inputs) : null,
        rec.args.some(isThenable) ? reprValue(args) : null,
      );
    }

    const executor = this.#executors.get(rec.executor);
    if (!executor) {
      this.#tryFailed(
        rec,
        new UnknownExecutorError(
          `app '${rec.app.name}' (task ${rec.id}) names executor '${rec.executor}', but the loaded config has only: ${this.#userLabels.join(", ")}`,
        ),
        nowMicros(),
      );
      return;
    }

    // Memoization: hash the resolved call; reuse an earlier identical call's outcome.
    if (rec.app.cache && this.config.appCache) {
      try {
        rec.hashsum = hashsum(callShape(rec.app, args, { ...rec.call, inputs }, rec.outputs));
      } catch (e) {
        const err =
          e instanceof MemoizationError
            ? new MemoizationError(`app '${rec.app.name}' (task ${rec.id}): ${e.message}`)
            : (e as Error);
        this.#tryFailed(rec, err, nowMicros());
        return;
      }
      const hit = this.#memo.lookup(rec.hashsum);
      if (hit) {
        this.#memoHit(rec, hit);
        return;
      }
    }

    const options: InvocationOptions = {
      inputs,
      outputs: rec.outputs,
      stdout: rec.stdout,
      stderr: rec.stderr,
      walltime: rec.call.walltime ?? null,
      resourceSpecification: rec.call.resourceSpecification ?? {},
    };
    const launchedAt = this.#stamp(rec);
    rec.tryLaunched = launchedAt;
    rec.tryRunning = null;
    const tryId = rec.tryId;
    const handle: TryHandle = {
      taskId: rec.id,
      tryId,
      app: rec.app.join ? joinDefinition(rec.app) : rec.app,
      args,
      options,
      running: (at, where) => {
        if (rec.handle === handle) this.#running(rec, at, where);
      },
      finished: (result) => {
        if (rec.handle === handle) {
          rec.handle = null;
          this.#finished(rec, result);
        }
      },
    };
    rec.handle = handle;
    rec.state = "launched";
    if (rec.prog) this.#move(rec, "launched");
    rec.tryHost = null;
    if (this.#recorder) {
      if (rec.stdout !== null || rec.stderr !== null)
        rec.marks = { stdout: streamMark(rec.stdout), stderr: streamMark(rec.stderr) };
      this.#recorder.launched(rec, launchedAt, executor.hostname);
    }
    if (this.#log.enabled("debug")) this.#log.write("debug", `task ${rec.id} try ${tryId} launched on ${rec.executor}`);
    executor.submit(handle);
  }

  #memoHit(rec: TaskRecord, hit: MemoOutcome): void {
    const at = this.#stamp(rec);
    rec.tryLaunched = at;
    this.#recorder?.memoLaunched(rec, at);
    this.#log.write(
      "info",
      `task ${rec.id} (${rec.app.name}) reuses the memoized ${hit.ok ? "result" : "failure"} of hashsum ${rec.hashsum}`,
    );
    if (hit.ok) this.#complete(rec, "memo_done", hit.value, null);
    else this.#tryFailed(rec, hit.error, nowMicros());
  }

  // ---------------------------------------------------------------- try outcomes

  #running(rec: TaskRecord, at: Micros, where?: WhereRan): void {
    if (rec.prog) this.#move(rec, "running");
    if (!this.#recordRunning) {
      // No running rows, but every try still records its host (written with the try's outcome).
      if (where?.hostname != null) rec.tryHost = where.hostname;
      return;
    }
    const ts = this.#stamp(rec, Math.min(at, nowMicros()));
    rec.tryRunning = ts;
    this.#recorder?.running(rec, ts, where?.hostname, where?.blockId);
  }

  #finished(rec: TaskRecord, result: TryResult): void {
    if (!result.ok && result.error instanceof TaskCancelled && this.#interrupting) {
      this.#cancel(rec, result.error);
      return;
    }
    if (this.#recordRunning && rec.tryRunning !== null && this.#recorder) {
      this.#recorder.runningEnded(rec, this.#stamp(rec, Math.min(result.endedAt ?? nowMicros(), nowMicros())));
    }
    const returned = nowMicros();
    if (!result.ok) {
      this.#tryFailed(rec, result.error, returned);
      return;
    }
    if (rec.app.join) this.#joinBody(rec, unboxJoinResult(result.value), returned);
    else this.#complete(rec, "exec_done", result.value, returned);
  }

  /** Failure of one try: count it, price it, then retry, or fail the task. */
  #tryFailed(rec: TaskRecord, error: Error, returned: Micros): void {
    let err = error;
    const forensics = this.#recorder ? failureColumns(error, rec.stdout, rec.stderr, rec.marks) : null;
    rec.failHistory.push(reprError(error));
    rec.failCount++;
    const handler = this.config.retryHandler;
    if (handler) {
      try {
        const cost = handler(error, viewOf(rec));
        if (typeof cost !== "number" || !Number.isFinite(cost))
          throw new TypeError(`retryHandler returned ${String(cost)}, not a finite number`);
        rec.failCost += cost;
      } catch (e) {
        this.#log.write(
          "error",
          `task ${rec.id}: retryHandler raised an exception - will not retry: ${(e as Error)?.message ?? e}`,
        );
        rec.failCost = this.config.retries + 1;
        err = e instanceof Error ? e : new Error(String(e));
      }
    } else {
      rec.failCost += 1;
    }

    if (error instanceof DependencyError) {
      this.#log.write("info", `task ${rec.id} (${rec.app.name}): ${error.message}`);
      this.#complete(rec, "dep_fail", error, returned, forensics);
      return;
    }
    const retry = !this.#closing && rec.failCost <= this.config.retries && !(error instanceof TaskCancelled);
    if (!retry) {
      this.#log.write("info", `task ${rec.id} (${rec.app.name}) failed after ${rec.tryId + 1} tries: ${err.message}`);
      this.#complete(rec, "failed", err, returned, forensics);
      return;
    }
    this.#log.write(
      "info",
      `task ${rec.id} (${rec.app.name}) try ${rec.tryId} failed (cost so far ${rec.failCost} of ${this.config.retries}); retrying: ${error.message}`,
    );
    const ts = this.#stamp(rec, returned);
    this.#recorder?.retrying(rec, ts, returned, forensics);
    rec.tryId++;
    rec.failHistory = [];
    rec.tryLaunched = null;
    rec.tryRunning = null;
    rec.marks = null;
    rec.tryHost = null;
    rec.state = "pending";
    if (rec.prog) this.#move(rec, "pending");
    if (this.#recorder) this.#recorder.newTry(rec, this.#stamp(rec));
    this.#launch(rec);
  }

  /** The join body returned: wait on the futures it returned. */
  #joinBody(rec: TaskRecord, value: unknown, returned: Micros): void {
    const single = isKernelFuture(value);
    const list = single ? [value] : Array.isArray(value) && value.every(isKernelFuture) ? value : null;
    if (!list) {
      const e = new TypeError(
        `join app '${rec.app.name}' must return a future or an array of futures, got ${reprValue(value)}`,
      );
      rec.failCount++;
      rec.failHistory.push(reprError(e));
      this.#complete(rec, "failed", e, returned, this.#recorder ? failureColumns(e, null, null, null) : null);
      return;
    }
    rec.state = "joining";
    if (rec.prog) this.#move(rec, "running");
    const ts = this.#stamp(rec);
    this.#recorder?.joining(
      rec,
      ts,
      list.map((f) => f.taskId),
    );
    let waiting = list.length;
    const settle = () => {
      const failed: Array<readonly [Error, string]> = [];
      for (const f of list) {
        const e = f.exception();
        if (e) failed.push([e, `task ${f.taskId}`]);
      }
      const cancelled = failed.find(([e]) => e instanceof TaskCancelled);
      if (cancelled) {
        this.#cancel(rec, cancelled[0]);
      } else if (failed.length > 0) {
        const e = new JoinError(failed, rec.id);
        rec.failCount++; // join failures count but cost nothing, and are never retried
        rec.failHistory.push(e.toRepr());
        this.#complete(rec, "failed", e, nowMicros(), this.#recorder ? failureColumns(e, null, null, null) : null);
      } else {
        const values = list.map((f) => f.resultNow());
        this.#complete(rec, "exec_done", single ? values[0] : values, nowMicros());
      }
    };
    if (waiting === 0) settle();
    else
      for (const f of list)
        whenDone(f, () => {
          if (--waiting === 0) settle();
        });
  }

  /** A final state: record it, memoize it, settle the future, forget the task. */
  #complete(
    rec: TaskRecord,
    state: FinalState,
    valueOrError: unknown,
    returned: Micros | null,
    forensics: Partial<TryColumns> | null = null,
  ): void {
    const ok = state === "exec_done" || state === "memo_done";
    if (rec.hashsum && state !== "dep_fail") {
      this.#memo.record(
        rec.hashsum,
        ok ? { ok: true, value: valueOrError } : { ok: false, error: valueOrError as Error },
      );
    }
    rec.state = state;
    this.#counts[state]++;
    if (rec.prog) {
      this.#move(rec, ok ? "done" : "failed");
      if (state === "failed")
        this.#progress?.failure(
          rec.id,
          rec.app.name,
          valueOrError instanceof Error ? `${valueOrError.name}: ${valueOrError.message}` : String(valueOrError),
        );
    }
    const ts = this.#stamp(rec);
    if (this.#recorder) {
      this.#recorder.final(rec, state, ts, returned, forensics);
      if (state === "exec_done" || state === "failed")
        this.#recorder.counts(this.#counts.exec_done, this.#counts.failed);
    }
    if (this.#log.enabled("debug")) this.#log.write("debug", `task ${rec.id} ${state}`);
    this.#tasks.delete(rec.id);
    if (ok) resolveFuture(rec.future, valueOrError);
    else rejectFuture(rec.future, valueOrError as Error);
    this.#taskGone();
  }

  /**
   * A try the run's interruption stopped, or a task it never launched: no failure, status or
   * count is recorded, so the task keeps its last state; its future fails with TaskCancelled.
   */
  #cancel(rec: TaskRecord, err: TaskCancelled): void {
    if (!this.#tasks.delete(rec.id)) return; // already final or cancelled (a late dependency or join callback)
    rec.handle = null;
    this.#cancelled++;
    if (rec.prog) {
      rec.prog[rec.bucket]--; // no longer counted: it will not run
      this.#progress?.touch();
    }
    if (this.#log.enabled("debug"))
      this.#log.write("debug", `task ${rec.id} cancelled in state ${rec.state}: ${err.message}`);
    rejectFuture(rec.future, err);
    this.#taskGone();
  }

  #taskGone(): void {
    if (--this.#outstanding === 0) {
      const ws = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of ws) w();
    }
  }

  /** Config.progress: count the task in another bucket. */
  #move(rec: TaskRecord, to: Bucket): void {
    const p = rec.prog!;
    p[rec.bucket]--;
    p[to]++;
    rec.bucket = to;
    this.#progress?.touch();
  }

  /** A timestamp for one of `rec`'s events, never earlier than its previous one. */
  #stamp(rec: TaskRecord, candidate?: Micros): Micros {
    let t = candidate ?? nowMicros();
    if (t <= rec.lastTs) t = rec.lastTs + 1;
    rec.lastTs = t;
    return t;
  }

  // ---------------------------------------------------------------- waiting and shutdown

  /** Number of tasks submitted and not yet in a final state. */
  get outstandingTasks(): number {
    return this.#outstanding;
  }

  /** Counts of tasks per final state so far. */
  get finalCounts(): Readonly<{ exec_done: number; failed: number; dep_fail: number; memo_done: number }> {
    return { ...this.#counts };
  }

  /** Resolves when every task submitted so far has reached a final state. */
  waitForCurrentTasks(): Promise<void> {
    if (this.#outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Write queued checkpoints now (checkpointMode "manual"). Returns how many results were written. */
  checkpoint(): number {
    return this.#memo.checkpoint();
  }

  /**
   * End the run: wait for submitted tasks (unless `wait: false`), write checkpoints, stop
   * executors, record the workflow's end and run status, and flush monitoring.
   */
  cleanup(options: CleanupOptions = {}): Promise<void> {
    const wait = cleanupWaits(options);
    this.#closing ??= this.#cleanup(wait);
    return this.#closing;
  }

  async #cleanup(wait: boolean): Promise<void> {
    this.#lifecycle.cleanupBegan();
    if (wait) {
      await new Promise<void>((resolve) => {
        this.#stopWaiting = resolve;
        void this.waitForCurrentTasks().then(resolve);
      });
      this.#stopWaiting = null;
    }
    // Not waiting, or a signal ended the wait: what has not finished is cancelled, not failed.
    if (!wait || this.#outstanding > 0) this.#interrupting = true;
    this.#log.write("info", `cleanup: ${this.#outstanding} tasks still outstanding`);
    this.#memo.close();
    for (const ex of [...this.#executors.values()].reverse()) {
      try {
        await withTimeout(ex.shutdown(), 30_000, `executor ${ex.label} shutdown`);
        this.#log.write("info", `executor ${ex.label} shut down`);
      } catch (e) {
        this.#log.write("error", `executor ${ex.label} did not shut down cleanly: ${(e as Error).message}`);
      }
    }
    // Executors cancelled what they held; tasks still waiting on dependencies never run.
    for (const rec of [...this.#tasks.values()]) {
      if (this.#tasks.has(rec.id))
        this.#cancel(rec, new TaskCancelled(`task ${rec.id} (${rec.app.name}) never ran: the run was interrupted`));
    }
    if (this.#cancelled > 0)
      this.#log.write("info", `cleanup: ${this.#cancelled} tasks were cancelled and keep their last state`);
    const status: RunStatus = this.#runStatus ?? (this.#cancelled > 0 ? "interrupted" : this.#endStatus());
    if (this.#sink) {
      this.#emitEnd(status);
      await this.#sink.close();
    }
    this.#lifecycle.endRecorded();
    const c = this.#counts;
    this.#log.write(
      "info",
      `run ${this.runId} ended ${status}: ${c.exec_done} exec_done, ${c.memo_done} memo_done, ${c.failed} failed, ${c.dep_fail} dep_fail`,
    );
    this.#printSummary(status);
    await this.#log.close();
    this.#lifecycle.uninstall();
    setCurrentKernel(null);
  }

  /** Pid of the monitoring database writer process (null without monitoring). */
  monitoringWriterPid(): number | null {
    return this.#sink?.pid ?? null;
  }
}

function viewOf(rec: TaskRecord): TaskRecordView {
  return {
    id: rec.id,
    appName: rec.app.name,
    executor: rec.executor,
    tryId: rec.tryId,
    failCount: rec.failCount,
    failCost: rec.failCost,
    args: rec.args,
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
