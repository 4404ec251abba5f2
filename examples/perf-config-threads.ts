/** A config for `parsl-ts perf`: threads with full monitoring. */
import { Config, MonitoringHub, ThreadPoolExecutor } from "../src/index.js";

export function freshConfig(): Config {
  return new Config({
    executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 2 })],
    monitoring: new MonitoringHub({ resourceMonitoringInterval: 1 }),
  });
}
