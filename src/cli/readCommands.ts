/**
 * The commands that only read a monitoring database and answer at once: runs, tasks, stats,
 * analyze, watch. The `parsl-ts` executable carries them in its bundle (scripts/bundleCli.ts),
 * with main.ts and node-postgres, so that they start without resolving and loading some ninety
 * separate modules: a command that answers in milliseconds would otherwise spend most of its time
 * loading. `node dist/src/cli/main.js` runs the same code as modules.
 */
export { analyzeCommand } from "./analyze.js";
export { runsCommand } from "./runs.js";
export { statsCommand } from "./stats.js";
export { tasksCommand } from "./tasks.js";
export { watchCommand } from "./watch.js";
