/** Number formats of the text output of stats and analyze (opening and RUN: queryCommon.ts). */

/** Seconds for people: 0.004 s, 12.3 s, 4m05s, 2h03m. */
export function seconds(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "-";
  if (s < 10) return `${s.toFixed(3)} s`;
  if (s < 600) return `${s.toFixed(1)} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** Bytes as MiB / GiB. */
export function bytes(b: number | null): string {
  if (b === null || !Number.isFinite(b)) return "-";
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(2)} GiB`;
  return `${(b / 1024 ** 2).toFixed(1)} MiB`;
}

/** Rounds to 6 decimals for machine formats (float noise such as 0.30000000000000004 removed). */
export const round6 = (v: number | null): number | null => (v === null ? null : Math.round(v * 1e6) / 1e6);
