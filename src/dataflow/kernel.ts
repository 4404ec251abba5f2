/**
 * The DataFlowKernel: turns app calls into tasks, waits for their dependencies, launches
 * tries on executors, applies retries and memoization, and reports every state change to
 * monitoring. One kernel per `load()`.
 *
 * Task life (spec §3): pending → [launched → (running → running_ended)] → exec_done
 *   | fail_retryable → pending (next try) | failed | dep_fail | memo_done | joining → exec_done/failed
 */
import { randomUUID } from "node:crypto";
import os from "node:os";
import path from "node:path";
import type { AppSpec, CallOptions, StreamSpec, Submitter } from "../apps/app.js";
import { AUTO_LOGNAME, File } from "../apps/files.js";
import type { Config, TaskRecordView } from "../config.js";
import { describeEndpoint, parseEndpoint } from "../database/endpoint.js";
import type { StateName, RunStatus } from "../database/schema.js";
import {
  DependencyError, JoinError, MemoizationError, ParslError, TaskCancelled, UnknownExecutorError, reprError,
} from "../errors.js";
import type { Executor, ExecutorHost, InvocationOptions, StreamTarget, TryHandle, TryResult, WhereRan } from "../executors/base.js";
import { INTERNAL_EXECUTOR_LABEL } from "../executors/base.js";
import { InProcessExecutor } from "../executors/inProcess.js";
import type { Micros, MonitoringEvent, TaskColumns, TryColumns } from "../monitoring/messages.js";
import { startMonitoringSink, type MonitoringSink } from "../monitoring/sink.js";
import { nowMicros } from "./clock.js";
import { setCurrentKernel } from "./current.js";
import { AppFuture, DataFuture, isKernelFuture, isThenable } from "./futures.js";
import { hashsum, lineageHash, type CallShape } from "./hashing.js";
import { Memoizer, type MemoOutcome } from "./memoizer.js";
import { reprValue } from "./repr.js";
import { makeRunDir } from "./rundir.js";
import { RunLog, type LogLevel } from "./runLog.js";
import { Options, unknownOptionProblem } from "../validation.js";
import { failureColumns, streamMark, type StreamMarks } from "./tryForensics.js";
import { formatRunSummary } from "./runSummary.js";
import { KernelProgress, type Bucket } from "./progress.js";
import type { AppProgress } from "../progress/render.js";

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

export interface CleanupOptions {
  /** Wait for every submitted task to finish first (default true). */
  wait?: boolean;
}

export class DataFlowKernel implements Submitter {
  readonly runId = randomUUID();
  readonly config: Config;
  /** This run's directory, `<runDir>/NNN` (absolute). */
  readonly runDir: string;
  readonly timeBegan: Micros;
  #log: RunLog;
  #monitor: MonitoringSink | null = null;
  #monitorRunning = false; // record running/running_ended and try host/block
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
  #signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  #beforeExit: (() => void) | null = null;
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

  /** @internal Called by `load()`. */
  async start(): Promise<void> {
    const c = this.config;
    this.#log.write("info", `parsl-ts run ${this.runId} starting in ${this.runDir}`);
    const hub = c.monitoring;
    if (hub) {
      const endpoint = hub.loggingEndpoint ?? path.resolve(c.runDir, "monitoring.db");
      const parsed = parseEndpoint(endpoint);
      this.#database = parsed.kind === "postgresql" ? describeEndpoint(parsed) : endpoint; // for the log and the end-of-run line: no password
      this.#monitor = await startMonitoringSink({
        endpoint,
        runId: this.runId,
        runDir: this.runDir,
        debug: hub.monitoringDebug,
        heartbeatSeconds: hub.heartbeatPeriod,
        onWarning: (msg) => this.#log.write("warning", `monitoring: ${msg}`),
      });
      this.#monitorRunning = hub.resourceMonitoringEnabled;
      const began = new Date(Math.floor(this.timeBegan / 1000));
      this.#monitor.emit({
        t: "workflow_start",
        workflow_name: hub.workflowName ?? (path.basename(process.argv[1] ?? "") || "unnamed"),
        workflow_version: hub.workflowVersion ?? formatSeconds(began),
        time_began: this.timeBegan,
        host: os.hostname(),
        user: safeUser(),
        rundir: this.runDir,
        heartbeat_period: hub.heartbeatPeriod,
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
    if (c.handleSignals) this.#installSignalHandlers();
    if (c.progress) {
      this.#progress = new KernelProgress(`run ${this.runId.slice(0, 8)}`);
      this.#progress.start();
    }
    // A script that forgets cleanup() still ends its run properly (Parsl does this at exit).
    this.#beforeExit = () => void this.cleanup();
    process.once("beforeExit", this.#beforeExit);
    process.on("exit", this.#onExit);
  }

  /**
   * `process.exit()` before cleanup() has finished (a script's own exit, a second Ctrl-C): only
   * synchronous code runs from here on, so the run's end and every event not yet in the
   * writer's pipe are written to it now; the writer, a process of its own, stores them after
   * this one is gone. Tasks still outstanding make the run `interrupted`; a non-zero exit code
   * (an uncaught error, `process.exit(1)`) with none outstanding makes it `failed`.
   */
  #onExit = (code: number): void => {
    const status = this.#runStatus ?? (this.#outstanding > 0 ? "interrupted" : code !== 0 ? "failed" : this.#endStatus());
    this.#printSummary(status);
    const m = this.#monitor;
    if (!m) return;
    if (!this.#endEmitted) this.#emitEnd(status);
    m.flushAtExit();
  };

  /** The end-of-run line on stderr (Config.summary), once. */
  #printSummary(status: RunStatus): void {
    this.#progress?.stop(status); // the final progress view goes before the summary line
    this.#progress = null;
    if (this.#summaryPrinted || !this.config.summary) return;
    this.#summaryPrinted = true;
    const line = formatRunSummary({
      runId: this.runId, status, seconds: (nowMicros() - this.timeBegan) / 1e6, counts: this.#counts,
      cancelled: this.#cancelled + this.#outstanding, database: this.#database, // outstanding: at a process.exit() before cleanup
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
    this.#monitor?.emit({
      t: "workflow_end",
      time_completed: nowMicros(),
      tasks_completed_count: this.#counts.exec_done,
      tasks_failed_count: this.#counts.failed,
      run_status: status,
    });
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
      emit: (e: MonitoringEvent) => this.#monitor?.emit(e),
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
    const stdout = this.#stream(call.stdout, id, app, "stdout");
    const stderr = this.#stream(call.stderr, id, app, "stderr");

    const deps: unknown[] = [];
    for (const a of args) if (isThenable(a)) deps.push(a);
    if (call.inputs) for (const a of call.inputs as unknown[]) if (isThenable(a)) deps.push(a);

    const lineage = this.#monitor ? lineageHash(shapeOf(app, args, call, outputs)) : null;
    const future = new AppFuture<R>(id, app.name, lineage);
    for (const f of outputs) future.outputs.push(new DataFuture(future, f));

    const now = nowMicros();
    const rec: TaskRecord = {
      id, app, future: future as AppFuture<unknown>, args, call, executor, outputs, stdout, stderr, deps,
      foreign: null, depsPending: 0, state: "pending", tryId: 0, failCount: 0, failCost: 0, failHistory: [],
      hashsum: null, tryLaunched: null, tryRunning: null, lastTs: now, handle: null, marks: null, tryHost: null,
      prog: null, bucket: "pending",
    };
    if (this.#progress) {
      rec.prog = this.#progress.app(app.name);
      rec.prog.pending++;
    }
    this.#tasks.set(id, rec);
    this.#outstanding++;

    if (this.#monitor) {
      const dependsOn: number[] = [];
      for (const d of deps) if (isKernelFuture(d)) dependsOn.push(d.taskId);
      // NULL columns are left out of first rows (the writer inserts NULL for them): less to encode and send.
      const cols: Partial<TaskColumns> = {
        task_depends: dependsOn.join(","),
        task_func_name: app.name,
        task_memoize: app.cache,
        task_inputs: call.inputs === undefined ? "None" : reprValue(call.inputs),
        task_args: reprValue(args),
        task_outputs: call.outputs === undefined ? "None" : reprValue(outputs),
        task_stdout: streamColumn(call.stdout, stdout),
        task_stderr: streamColumn(call.stderr, stderr),
        task_time_invoked: now,
        task_fail_count: 0,
        task_fail_cost: 0,
      };
      if (call.stdin != null) cols.task_stdin = call.stdin;
      if (lineage !== null) cols.task_lineage_hash = lineage;
      this.#monitor.emit({ t: "task", task_id: id, first: true, cols });
      this.#emitNewTry(rec, now);
    }
    if (this.#log.enabled("debug")) this.#log.write("debug", `task ${id} (${app.name}) submitted for executor ${executor}, ${deps.length} dependencies`);

    for (const d of deps) {
      rec.depsPending++;
      if (isKernelFuture(d)) {
        d.onDone(() => this.#depDone(rec));
      } else {
        const slot: ForeignDep = { settled: false, ok: false, value: undefined, error: null };
        (rec.foreign ??= new Map()).set(d, slot);
        (d as PromiseLike<unknown>).then(
          (v) => Object.assign(slot, { settled: true, ok: true, value: v }),
          (e) => Object.assign(slot, { settled: true, ok: false, error: e instanceof Error ? e : new Error(String(e)) }),
        ).then(() => this.#depDone(rec));
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

  #stream(spec: StreamSpec, id: number, app: AppSpec, which: "stdout" | "stderr"): StreamTarget | null {
    if (spec === undefined || spec === null) return null;
    if (spec === AUTO_LOGNAME) {
      const dir = path.join(this.runDir, "task_logs", String(Math.floor(id / 10000)).padStart(4, "0"));
      return { path: path.join(dir, `task_${String(id).padStart(4, "0")}_${app.name}.${which}`), mode: "a" };
    }
    if (spec instanceof File) return { path: spec.filepath, mode: "a" };
    if (typeof spec === "string") return { path: spec, mode: "a" };
    return { path: spec[0], mode: spec[1] };
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
    if (this.#monitor && rec.deps.length > 0) {
      // As Parsl does for task_inputs: once resolved, the columns show values instead of futures.
      const cols: Partial<TaskColumns> = {};
      if (rec.call.inputs !== undefined) cols.task_inputs = reprValue(inputs);
      if (rec.args.some(isThenable)) cols.task_args = reprValue(args);
      if (cols.task_inputs !== undefined || cols.task_args !== undefined) this.#monitor.emit({ t: "task", task_id: rec.id, first: false, cols });
    }

    const executor = this.#executors.get(rec.executor);
    if (!executor) {
      this.#tryFailed(rec, new UnknownExecutorError(
        `app '${rec.app.name}' (task ${rec.id}) names executor '${rec.executor}', but the loaded config has only: ${this.#userLabels.join(", ")}`,
      ), nowMicros());
      return;
    }

    // Memoization: hash the resolved call; reuse an earlier identical call's outcome.
    if (rec.app.cache && this.config.appCache) {
      try {
        rec.hashsum = hashsum(shapeOf(rec.app, args, { ...rec.call, inputs }, rec.outputs));
      } catch (e) {
        const err = e instanceof MemoizationError ? new MemoizationError(`app '${rec.app.name}' (task ${rec.id}): ${e.message}`) : (e as Error);
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
    if (this.#monitor) {
      if (rec.stdout !== null || rec.stderr !== null) rec.marks = { stdout: streamMark(rec.stdout), stderr: streamMark(rec.stderr) };
      this.#monitor.emit({ t: "status", task_id: rec.id, try_id: tryId, state: "launched", ts: launchedAt });
      const cols: Partial<TryColumns> = { task_try_time_launched: launchedAt };
      if (executor.hostname !== undefined) cols.hostname = executor.hostname;
      this.#monitor.emit({ t: "try", task_id: rec.id, try_id: tryId, first: false, cols });
    }
    if (this.#log.enabled("debug")) this.#log.write("debug", `task ${rec.id} try ${tryId} launched on ${rec.executor}`);
    executor.submit(handle);
  }

  #memoHit(rec: TaskRecord, hit: MemoOutcome): void {
    const at = this.#stamp(rec);
    rec.tryLaunched = at;
    this.#monitor?.emit({ t: "try", task_id: rec.id, try_id: rec.tryId, first: false, cols: { task_try_time_launched: at } });
    this.#log.write("info", `task ${rec.id} (${rec.app.name}) reuses the memoized ${hit.ok ? "result" : "failure"} of hashsum ${rec.hashsum}`);
    if (hit.ok) this.#complete(rec, "memo_done", hit.value, null);
    else this.#tryFailed(rec, hit.error, nowMicros());
  }

  // ---------------------------------------------------------------- try outcomes

  #running(rec: TaskRecord, at: Micros, where?: WhereRan): void {
    if (rec.prog) this.#move(rec, "running");
    if (!this.#monitorRunning) {
      // No running rows, but every try still records its host (written with the try's outcome).
      if (where?.hostname != null) rec.tryHost = where.hostname;
      return;
    }
    const ts = this.#stamp(rec, Math.min(at, nowMicros()));
    rec.tryRunning = ts;
    if (this.#monitor) {
      this.#monitor.emit({ t: "status", task_id: rec.id, try_id: rec.tryId, state: "running", ts });
      const cols: Partial<TryColumns> = { task_try_time_running: ts };
      if (where?.hostname != null) cols.hostname = where.hostname;
      if (where?.blockId != null) cols.block_id = where.blockId;
      this.#monitor.emit({ t: "try", task_id: rec.id, try_id: rec.tryId, first: false, cols });
    }
  }

  #finished(rec: TaskRecord, result: TryResult): void {
    if (!result.ok && result.error instanceof TaskCancelled && this.#interrupting) {
      this.#cancel(rec, result.error);
      return;
    }
    if (this.#monitorRunning && rec.tryRunning !== null && this.#monitor) {
      const ended = this.#stamp(rec, Math.min(result.endedAt ?? nowMicros(), nowMicros()));
      this.#monitor.emit({ t: "status", task_id: rec.id, try_id: rec.tryId, state: "running_ended", ts: ended });
    }
    const returned = nowMicros();
    if (!result.ok) {
      this.#tryFailed(rec, result.error, returned);
      return;
    }
    if (rec.app.join) this.#joinBody(rec, (result.value as JoinBox)[JOIN_BOX], returned);
    else this.#complete(rec, "exec_done", result.value, returned);
  }

  /** Failure of one try: count it, price it, then retry, or fail the task. */
  #tryFailed(rec: TaskRecord, error: Error, returned: Micros): void {
    let err = error;
    const forensics = this.#monitor ? failureColumns(error, rec.stdout, rec.stderr, rec.marks) : null;
    rec.failHistory.push(reprError(error));
    rec.failCount++;
    const handler = this.config.retryHandler;
    if (handler) {
      try {
        const cost = handler(error, viewOf(rec));
        if (typeof cost !== "number" || !Number.isFinite(cost)) throw new TypeError(`retryHandler returned ${String(cost)}, not a finite number`);
        rec.failCost += cost;
      } catch (e) {
        this.#log.write("error", `task ${rec.id}: retryHandler raised an exception - will not retry: ${(e as Error)?.message ?? e}`);
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
    this.#log.write("info", `task ${rec.id} (${rec.app.name}) try ${rec.tryId} failed (cost so far ${rec.failCost} of ${this.config.retries}); retrying: ${error.message}`);
    const ts = this.#stamp(rec, returned);
    if (this.#monitor) {
      this.#monitor.emit({ t: "status", task_id: rec.id, try_id: rec.tryId, state: "fail_retryable", ts });
      const tryCols: Partial<TryColumns> = { ...forensics, task_try_time_returned: returned, task_fail_history: rec.failHistory.join(",") };
      if (rec.tryHost !== null) tryCols.hostname = rec.tryHost;
      this.#monitor.emit({ t: "try", task_id: rec.id, try_id: rec.tryId, first: false, cols: tryCols });
      this.#monitor.emit({ t: "task", task_id: rec.id, first: false, cols: { task_fail_count: rec.failCount, task_fail_cost: rec.failCost } });
    }
    rec.tryId++;
    rec.failHistory = [];
    rec.tryLaunched = null;
    rec.tryRunning = null;
    rec.marks = null;
    rec.tryHost = null;
    rec.state = "pending";
    if (rec.prog) this.#move(rec, "pending");
    if (this.#monitor) this.#emitNewTry(rec, this.#stamp(rec));
    this.#launch(rec);
  }

  /** The join body returned: wait on the futures it returned. */
  #joinBody(rec: TaskRecord, value: unknown, returned: Micros): void {
    const single = isKernelFuture(value);
    const list = single ? [value] : Array.isArray(value) && value.every(isKernelFuture) ? (value as Array<AppFuture<unknown> | DataFuture>) : null;
    if (!list) {
      const e = new TypeError(`join app '${rec.app.name}' must return a future or an array of futures, got ${reprValue(value)}`);
      rec.failCount++;
      rec.failHistory.push(reprError(e));
      this.#complete(rec, "failed", e, returned, this.#monitor ? failureColumns(e, null, null, null) : null);
      return;
    }
    rec.state = "joining";
    if (rec.prog) this.#move(rec, "running");
    const ts = this.#stamp(rec);
    if (this.#monitor) {
      this.#monitor.emit({ t: "status", task_id: rec.id, try_id: rec.tryId, state: "joining", ts });
      this.#monitor.emit({ t: "try", task_id: rec.id, try_id: rec.tryId, first: false, cols: { task_joins: list.map((f) => f.taskId).join(",") } });
    }
    let waiting = list.length;
    const settle = () => {
      const failed: Array<readonly [Error, string]> = [];
      for (const f of list) {
        const e = f.exception();
        if (e) failed.push([e, `task ${f.taskId}`]);
      }
      const cancelled = failed.find(([e]) => e instanceof TaskCancelled);
      if (cancelled) {
        this.#cancel(rec, cancelled[0] as TaskCancelled);
      } else if (failed.length > 0) {
        const e = new JoinError(failed, rec.id);
        rec.failCount++; // join failures count but cost nothing, and are never retried
        rec.failHistory.push(e.toRepr());
        this.#complete(rec, "failed", e, nowMicros(), this.#monitor ? failureColumns(e, null, null, null) : null);
      } else {
        const values = list.map((f) => f.resultNow());
        this.#complete(rec, "exec_done", single ? values[0] : values, nowMicros());
      }
    };
    if (waiting === 0) settle();
    else for (const f of list) f.onDone(() => { if (--waiting === 0) settle(); });
  }

  /** A final state: record it, memoize it, settle the future, forget the task. */
  #complete(
    rec: TaskRecord, state: "exec_done" | "memo_done" | "failed" | "dep_fail", valueOrError: unknown, returned: Micros | null,
    forensics: Partial<TryColumns> | null = null,
  ): void {
    const ok = state === "exec_done" || state === "memo_done";
    if (rec.hashsum && state !== "dep_fail") {
      this.#memo.record(rec.hashsum, ok ? { ok: true, value: valueOrError } : { ok: false, error: valueOrError as Error });
    }
    rec.state = state;
    this.#counts[state]++;
    if (rec.prog) {
      this.#move(rec, ok ? "done" : "failed");
      if (state === "failed") this.#progress?.failure(rec.id, rec.app.name, valueOrError instanceof Error ? `${valueOrError.name}: ${valueOrError.message}` : String(valueOrError));
    }
    const ts = this.#stamp(rec);
    if (this.#monitor) {
      const tryCols: Partial<TryColumns> = forensics === null
        ? { task_try_time_returned: returned ?? ts, task_fail_history: rec.failHistory.join(",") }
        : { ...forensics, task_try_time_returned: returned ?? ts, task_fail_history: rec.failHistory.join(",") };
      if (rec.tryHost !== null) tryCols.hostname = rec.tryHost;
      this.#monitor.emit({ t: "try", task_id: rec.id, try_id: rec.tryId, first: false, cols: tryCols });
      const taskCols: Partial<TaskColumns> = {
        task_time_returned: ts, task_fail_count: rec.failCount, task_fail_cost: rec.failCost,
      };
      if (rec.hashsum) taskCols.task_hashsum = rec.hashsum;
      this.#monitor.emit({ t: "task", task_id: rec.id, first: false, cols: taskCols });
      this.#monitor.emit({ t: "status", task_id: rec.id, try_id: rec.tryId, state, ts });
      if (state === "exec_done" || state === "failed") this.#monitor.setCounts(this.#counts.exec_done, this.#counts.failed);
    }
    if (this.#log.enabled("debug")) this.#log.write("debug", `task ${rec.id} ${state}`);
    this.#tasks.delete(rec.id);
    if (ok) rec.future.setResult(valueOrError);
    else rec.future.setException(valueOrError as Error);
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
    if (this.#log.enabled("debug")) this.#log.write("debug", `task ${rec.id} cancelled in state ${rec.state}: ${err.message}`);
    rec.future.setException(err);
    this.#taskGone();
  }

  #taskGone(): void {
    if (--this.#outstanding === 0) {
      const ws = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of ws) w();
    }
  }

  #emitNewTry(rec: TaskRecord, ts: Micros): void {
    const m = this.#monitor!;
    m.emit({ t: "try", task_id: rec.id, try_id: rec.tryId, first: true, cols: { task_executor: rec.executor } });
    m.emit({ t: "status", task_id: rec.id, try_id: rec.tryId, state: "pending", ts });
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
    const wait = new Options(CLEANUP_OPTIONS, options).boolean("wait", true);
    this.#closing ??= this.#cleanup(wait);
    return this.#closing;
  }

  async #cleanup(wait: boolean): Promise<void> {
    if (this.#beforeExit) process.off("beforeExit", this.#beforeExit);
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
      if (this.#tasks.has(rec.id)) this.#cancel(rec, new TaskCancelled(`task ${rec.id} (${rec.app.name}) never ran: the run was interrupted`));
    }
    if (this.#cancelled > 0) this.#log.write("info", `cleanup: ${this.#cancelled} tasks were cancelled and keep their last state`);
    const status: RunStatus = this.#runStatus ?? (this.#cancelled > 0 ? "interrupted" : this.#endStatus());
    if (this.#monitor) {
      this.#emitEnd(status);
      await this.#monitor.close();
    }
    process.off("exit", this.#onExit);
    const c = this.#counts;
    this.#log.write("info", `run ${this.runId} ended ${status}: ${c.exec_done} exec_done, ${c.memo_done} memo_done, ${c.failed} failed, ${c.dep_fail} dep_fail`);
    this.#printSummary(status);
    await this.#log.close();
    for (const [sig, h] of this.#signalHandlers) process.off(sig, h);
    this.#signalHandlers = [];
    setCurrentKernel(null);
  }

  #installSignalHandlers(): void {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const h = () => {
        if (this.#runStatus === "interrupted") process.exit(sig === "SIGINT" ? 130 : 143); // second signal: leave now
        this.#runStatus = "interrupted";
        this.#log.write("warning", `received ${sig}: ending the run`);
        process.stderr.write(`parsl-ts: received ${sig}, ending run ${this.runId} (again to exit at once)\n`);
        this.#stopWaiting?.(); // cleanup() may already be waiting for tasks: stop waiting
        void this.cleanup({ wait: false }).finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
      };
      process.on(sig, h);
      this.#signalHandlers.push([sig, h]);
    }
  }

  /** Pid of the monitoring database writer process (null without monitoring). */
  monitoringWriterPid(): number | null {
    return this.#monitor?.pid ?? null;
  }

  /** @internal for executors' and tests' diagnostics */
  logLine(level: LogLevel, message: string): void {
    this.#log.write(level, message);
  }
}

/**
 * Join bodies return futures, and anything awaited in JS unwraps thenables; the body's
 * result is boxed so the executor hands the futures back untouched.
 */
const JOIN_BOX = Symbol("join result");
type JoinBox = { [JOIN_BOX]: unknown };
const joinDefinitions = new WeakMap<AppSpec, AppSpec>();

function joinDefinition(app: AppSpec): AppSpec {
  let def = joinDefinitions.get(app);
  if (!def) {
    const body = app.fn;
    const box = (v: unknown): JoinBox => ({ [JOIN_BOX]: v });
    def = {
      ...app,
      fn: function (this: unknown, ...args: unknown[]) {
        const r = body.apply(this, args);
        return r instanceof Promise ? r.then(box) : box(r);
      },
    };
    joinDefinitions.set(app, def);
  }
  return def;
}

/** What memoization and lineage hash of a call (spec §4.3): options minus ignored names, app, arguments. */
function shapeOf(app: AppSpec, args: readonly unknown[], call: CallOptions<readonly unknown[]>, outputs: File[]): CallShape {
  const kwargs: Record<string, unknown> = {};
  const ignore = new Set(app.ignoreForCache);
  if (call.stdout === AUTO_LOGNAME) ignore.add("stdout");
  if (call.stderr === AUTO_LOGNAME) ignore.add("stderr");
  const put = (k: string, v: unknown) => {
    if (v !== undefined && !ignore.has(k)) kwargs[k] = v;
  };
  put("inputs", call.inputs);
  put("stdout", streamKey(call.stdout));
  put("stderr", streamKey(call.stderr));
  put("stdin", call.stdin ?? undefined);
  put("walltime", call.walltime);
  put("resourceSpecification", call.resourceSpecification);
  const positional = ignore.size > 0 ? args.map((a, i) => (ignore.has(String(i)) ? null : a)) : args;
  return {
    appName: app.name,
    args: positional,
    kwargs,
    outputs: call.outputs !== undefined && !ignore.has("outputs") ? outputs : undefined,
  };
}

function streamKey(s: StreamSpec): unknown {
  if (s === undefined || s === null || s === AUTO_LOGNAME) return undefined;
  if (s instanceof File) return s;
  return typeof s === "string" ? s : [s[0], s[1]];
}

/** `task_stdout`/`task_stderr`: '' for none, the File's url, else the path. */
function streamColumn(spec: StreamSpec, target: StreamTarget | null): string {
  if (spec instanceof File) return spec.url;
  return target?.path ?? "";
}

const CLEANUP_OPTIONS = { kind: "cleanup()", known: ["wait"], error: (field: string, problem: string) => new TypeError(`${field} ${problem}`) };

const CALL_OPTIONS = {
  kind: "app.with()",
  known: ["inputs", "outputs", "stdout", "stderr", "stdin", "walltime", "resourceSpecification"],
  aliases: { resources: "resourceSpecification" },
};

function checkCallOptions(appName: string, c: CallOptions<readonly unknown[]>): void {
  const bad = (field: string, problem: string) => new TypeError(`app '${appName}': call option ${field} ${problem}`);
  for (const k of Object.keys(c)) if (!CALL_OPTIONS.known.includes(k)) throw bad(k, unknownOptionProblem(k, CALL_OPTIONS));
  if (c.inputs !== undefined && !Array.isArray(c.inputs)) throw bad("inputs", "must be an array");
  if (c.outputs !== undefined && (!Array.isArray(c.outputs) || c.outputs.some((o) => !(o instanceof File) && typeof o !== "string"))) {
    throw bad("outputs", "must be an array of File objects or paths");
  }
  for (const s of ["stdout", "stderr"] as const) {
    const v = c[s];
    if (v === undefined || v === null || v === AUTO_LOGNAME || v instanceof File || (typeof v === "string" && v !== "")) continue;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && (v[1] === "w" || v[1] === "a")) continue;
    throw bad(s, "must be a path, [path, 'w' | 'a'], a File, AUTO_LOGNAME or null");
  }
  if (c.walltime !== undefined && (typeof c.walltime !== "number" || !(c.walltime > 0))) throw bad("walltime", "must be a positive number of seconds");
  if (c.resourceSpecification !== undefined && (c.resourceSpecification === null || typeof c.resourceSpecification !== "object")) {
    throw bad("resourceSpecification", "must be an object");
  }
  if (c.stdin !== undefined && c.stdin !== null && typeof c.stdin !== "string") throw bad("stdin", "must be a string");
}

function viewOf(rec: TaskRecord): TaskRecordView {
  return { id: rec.id, appName: rec.app.name, executor: rec.executor, tryId: rec.tryId, failCount: rec.failCount, failCost: rec.failCost, args: rec.args };
}

function formatSeconds(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? "unknown";
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
