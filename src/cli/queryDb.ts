/** Number formats of the text output of stats and analyze, with "-" for what is unknown (the formats themselves: queryCommon.ts). */
import { formatBytes, formatSeconds } from "./queryCommon.js";

/** Seconds as every command prints them (queryCommon.formatSeconds), "-" when unknown. */
export function seconds(s: number | null): string {
  return s === null || !Number.isFinite(s) ? "-" : formatSeconds(s);
}

/** Bytes as every command prints them (queryCommon.formatBytes), "-" when unknown. */
export function bytes(b: number | null): string {
  return b === null || !Number.isFinite(b) ? "-" : formatBytes(b);
}

/** Rounds to 6 decimals for machine formats (float noise such as 0.30000000000000004 removed). */
export const round6 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1e6) / 1e6);
