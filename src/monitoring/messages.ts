/**
 * Monitoring events: what the kernel (and, later, executors and worker pools) tell the
 * database writer. One event is one fact; the writer turns a batch of them into rows.
 *
 * Times are integers: microseconds since the Unix epoch (`Micros`). The writer formats
 * them into Parsl's naive-local `YYYY-MM-DD HH:MM:SS.ffffff` text, so the hot path never
 * formats dates.
 *
 * Events cross a process boundary (in the wire form of wire.ts), so the writer validates every
 * one of them and drops (and reports) anything malformed instead of failing the batch.
 */
export type * from "../vocabulary/events.js";

/** Largest `try.task_try_error` in UTF-8 bytes, its truncation marker included. */
export const ERROR_TEXT_MAX_BYTES = 64 * 1024;
/** `try.task_try_stdout_tail` / `_stderr_tail` hold at most this many bytes of the file. */
export const TAIL_BYTES = 4096;

/** Messages from the writer back to the kernel (over the IPC channel). */
/** The writer's exit code for an error that a restart would meet again (a read-only or corrupt file). */
export const WRITER_EXIT_FATAL = 3;

/** What the kernel tells its database writer (over IPC). */
export type WriterCommand =
  /** The journal ends at `offset`: store it up to there, then exit. */
  { type: "finish"; offset: number };

export type WriterReply =
  | { type: "ready" }
  /** Every frame before journal byte `offset` (the last being batch `seq`) is committed. */
  | { type: "ack"; seq: number; offset: number }
  | { type: "warning"; message: string }
  /** Something resolved (e.g. a lock episode ended); informational. */
  | { type: "note"; message: string }
  | { type: "error"; message: string };
