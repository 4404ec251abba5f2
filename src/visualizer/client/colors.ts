/**
 * Parsl's state colours (gantt_colors / dag_state_colors in the spec, §7) and a palette for apps.
 * Shared by the server (tests check every state has a colour) and the browser.
 */
export const STATE_COLORS: Readonly<Record<string, string>> = {
  pending: "rgb(168, 168, 168)",
  launched: "rgb(100, 255, 255)",
  running: "rgb(0, 0, 255)",
  dep_fail: "rgb(255, 128, 255)",
  failed: "rgb(200, 0, 0)",
  exec_done: "rgb(0, 200, 0)",
  memo_done: "rgb(64, 200, 64)",
  fail_retryable: "rgb(200, 128, 128)",
  joining: "rgb(128, 128, 255)",
  running_ended: "rgb(64, 64, 255)",
};

/** Display order of states in legends (Parsl's colour-table order). */
export const STATE_ORDER: readonly string[] = Object.keys(STATE_COLORS);

export const UNKNOWN_COLOR = "rgb(120, 120, 120)";

export function stateColor(state: string | null | undefined): string {
  return (state && STATE_COLORS[state]) || UNKNOWN_COLOR;
}

/** Plotly's default qualitative palette, so apps get the colours Parsl users know. */
const APP_PALETTE = [
  "#636efa",
  "#EF553B",
  "#00cc96",
  "#ab63fa",
  "#FFA15A",
  "#19d3f3",
  "#FF6692",
  "#B6E880",
  "#FF97FF",
  "#FECB52",
];

export function paletteColor(i: number): string {
  return APP_PALETTE[((i % APP_PALETTE.length) + APP_PALETTE.length) % APP_PALETTE.length]!;
}
