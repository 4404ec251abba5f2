/**
 * parsl-ts: parallel scripting for TypeScript, with a Parsl-compatible monitoring database.
 */
import { Config } from "./config.js";
import { DataFlowKernel, startKernel } from "./dataflow/kernel.js";
import { hasCurrentKernel, setCurrentKernel } from "./apps/current.js";
import { ParslError } from "./errors.js";

export { Config } from "./config.js";
export type { ConfigOptions, RetryHandler, TaskRecordView } from "./config.js";
export { DataFlowKernel } from "./dataflow/kernel.js";
export type { CleanupOptions } from "./dataflow/kernel.js";
export { AppFuture, DataFuture } from "./apps/futures.js";
export { tsApp, bashApp, joinApp } from "./apps/app.js";
export type { App, AppOptions, Arg, Args, CallOptions, StreamSpec, TaskContext } from "./apps/app.js";
export { File, AUTO_LOGNAME } from "./apps/files.js";
export { ThreadPoolExecutor, WorkerLost } from "./executors/threadPool.js";
export type { ThreadPoolExecutorOptions } from "./executors/threadPool.js";
export { InProcessExecutor } from "./executors/inProcess.js";
export { HighThroughputExecutor } from "./executors/htex/executor.js";
export type { HighThroughputExecutorOptions } from "./executors/htex/executor.js";
export { LocalProvider, type LocalProviderOptions } from "./providers/local.js";
export { SlurmProvider, type SlurmProviderOptions } from "./providers/slurm.js";
export { SimpleLauncher, SingleNodeLauncher, SrunLauncher, type Launcher } from "./providers/launchers.js";
export type { SrunLauncherOptions } from "./providers/launchers.js";
export type { InProcessExecutorOptions } from "./executors/inProcess.js";
export type { Executor, ExecutorHost, TryHandle, TryResult, InvocationOptions } from "./executors/base.js";
export { MonitoringHub } from "./monitoring/hub.js";
export type { MonitoringHubOptions } from "./monitoring/hub.js";
export { getAllCheckpoints, getLastCheckpoint } from "./dataflow/memoizer.js";
export type { CheckpointMode } from "./config.js";
export * from "./errors.js";

/**
 * Start a run: create `runinfo/NNN/`, start monitoring and the executors. Apps called
 * afterwards run as tasks of the returned kernel. One kernel at a time.
 */
export async function load(config: Config): Promise<DataFlowKernel> {
  if (!(config instanceof Config)) throw new ParslError("load() needs a Config (new Config({...}))");
  if (hasCurrentKernel())
    throw new ParslError("a DataFlowKernel is already loaded: await its cleanup() before loading another");
  const dfk = new DataFlowKernel(config);
  setCurrentKernel(dfk);
  try {
    await startKernel(dfk);
  } catch (e) {
    setCurrentKernel(null);
    await dfk.cleanup({ wait: false }).catch(() => undefined);
    throw e;
  }
  return dfk;
}
