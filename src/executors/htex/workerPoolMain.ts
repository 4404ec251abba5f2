/** Entry file for `node workerPoolMain.js …` (the same as `parsl-ts worker-pool …`). */
import { workerPoolCommand } from "./workerPoolCommand.js";

workerPoolCommand(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`worker-pool failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
