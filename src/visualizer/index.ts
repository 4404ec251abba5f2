/**
 * `parsl-ts visualize`: a read-only web view of a monitoring database.
 * startVisualizer() is the programmatic entry; visualizeCommand() is the CLI.
 */
import { describeEndpoint, parseEndpoint } from "../database/endpoint.js";
import { USAGE, parseVisualizeArgs } from "./cli.js";
import { openReader } from "./open-reader.js";
import { HeavyQueries } from "./heavy.js";
import { VisualizerServer } from "./server.js";

export interface VisualizerHandle {
  url: string;
  close(): Promise<void>;
}

export async function startVisualizer(opts: { db: string; port?: number; listen?: string }): Promise<VisualizerHandle> {
  const { reader, endpoint } = await openReader(opts.db);
  // SQLite: aggregates in a worker thread with its own connection; PostgreSQL: on the reader's pool (heavy.ts).
  const heavy = new HeavyQueries(endpoint.kind === "sqlite" ? endpoint.path : reader);
  const server = new VisualizerServer(reader, heavy);
  let url: string;
  try {
    url = await server.listen(opts.port ?? 8080, opts.listen ?? "127.0.0.1");
  } catch (e) {
    await heavy.close();
    await reader.close();
    throw e;
  }
  await server.warmUp();
  let closed = false;
  return {
    url,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await server.close();
      await heavy.close();
      await reader.close();
    },
  };
}

export async function visualizeCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseVisualizeArgs(argv);
  } catch (e) {
    console.error(`parsl-ts visualize: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  let handle: VisualizerHandle;
  try {
    handle = await startVisualizer({ db: args.db, port: args.port, listen: args.listen });
  } catch (e) {
    console.error(`parsl-ts visualize: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
  console.log(
    `parsl-ts visualize: serving ${describeEndpoint(parseEndpoint(args.db))} at ${handle.url} (read-only; Ctrl-C to stop)`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await handle.close();
  return 0;
}

export { parseVisualizeArgs } from "./cli.js";
export { parseEndpoint, DEFAULT_DB, type Endpoint } from "../database/endpoint.js";
export { judgeRun } from "../database/runStatus.js";
