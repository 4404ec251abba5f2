/** The naive-clock helpers live with the read queries (src/database/queries/time.ts). */
export { msToNaive, naiveNowMs, naiveToMs } from "../database/queries/time.js";
