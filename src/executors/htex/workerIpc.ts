/** Messages between a worker pool and its worker processes (Node IPC, v8 serialization). */
import type { ResultItem, TaskItem } from "./protocol.js";
import type { Micros } from "../../monitoring/messages.js";

/** Pool -> worker: run these tries in order. */
export interface WorkerBatch { t: "batch"; items: TaskItem[] }
/** Worker -> pool: a long (async or bash) body started. */
export interface WorkerStarted { t: "started"; id: number; at: Micros }
/** Worker -> pool: these tries are over. */
export interface WorkerDone { t: "done"; results: ResultItem[] }

export type ToWorker = WorkerBatch;
export type FromWorker = WorkerStarted | WorkerDone;
