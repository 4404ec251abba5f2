/** Messages between a worker pool and its worker processes (Node IPC, v8 serialization). */
import type { ResourceSample, ResultItem, TaskItem } from "./protocol.js";
import type { Micros } from "../../monitoring/messages.js";

/** Pool -> worker: run these tries in order. */
export interface WorkerBatch {
  t: "batch";
  items: TaskItem[];
}
/**
 * Worker -> pool: a body started: always for async and bash bodies, for synchronous ones only
 * outside rapid streams of short tries. `base` is the worker's resource reading at the try's
 * start (with resource sampling on), from which the pool's periodic samples of it are counted.
 */
export interface WorkerStarted {
  t: "started";
  id: number;
  at: Micros;
  base?: ResourceSample;
}
/** Worker -> pool: these tries are over. */
export interface WorkerDone {
  t: "done";
  results: ResultItem[];
}

export type ToWorker = WorkerBatch;
export type FromWorker = WorkerStarted | WorkerDone;
