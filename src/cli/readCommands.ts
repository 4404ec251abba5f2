/**
 * The commands that only read a monitoring database and answer at once: runs, tasks, stats,
 * analyze, watch. `npm run build` replaces this module's compiled output with one bundled file
 * (scripts/bundleCli.ts) so that these commands start without resolving and loading some seventy
 * separate modules (ours and node-postgres's): a command that answers in milliseconds would
 * otherwise spend most of its time loading. Without that step it works the same, as modules.
 */
export { analyzeCommand } from "./analyze.js";
export { runsCommand } from "./runs.js";
export { statsCommand } from "./stats.js";
export { tasksCommand } from "./tasks.js";
export { watchCommand } from "./watch.js";
