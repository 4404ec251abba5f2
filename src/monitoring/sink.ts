/**
 * The kernel's handle on monitoring: where events go. The implementation is the writer
 * client (a separate writer process owns the database); this seam keeps the kernel
 * independent of how events are stored.
 */
import type { MonitoringEvent } from "./messages.js";
import { MonitoringWriter } from "./writerClient.js";

export interface MonitoringSink {
  emit(event: MonitoringEvent): void;
  /** Workflow counters (exec_done / failed tasks so far). */
  setCounts(completed: number, failed: number): void;
  /** The database writer process, if it runs as one (for diagnostics and tests). */
  readonly pid?: number | undefined;
  /** Flush everything and stop; bounded. */
  close(): Promise<void>;
  /** At process exit (synchronous code only): put every pending event where the writer finds it. */
  flushAtExit(): void;
}

export interface SinkOptions {
  endpoint: string;
  runId: string;
  runDir: string;
  debug: boolean;
  heartbeatSeconds: number;
  onWarning: (message: string) => void;
}

export function startMonitoringSink(options: SinkOptions): Promise<MonitoringSink> {
  return MonitoringWriter.start(options);
}
