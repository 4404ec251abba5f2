/** The visualizer's stylesheet, served as /static/style.css (no external fonts or frameworks). */
export const STYLE_CSS = `
:root { --fg:#1d2430; --muted:#5b6576; --line:#dde2ea; --bg:#f4f6f9; --card:#fff; --accent:#2458a6; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
code { font: 12px/1.3 ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
.topbar { display:flex; align-items:center; gap:24px; padding:10px 24px; background:#1f3a60; color:#fff; }
.topbar a { color:#e8eef8; } .brand { font-weight:700; font-size:16px; } .brand span { font-weight:400; opacity:.8; }
.topbar nav { display:flex; gap:18px; flex:1; }
.live { font-size:12px; opacity:.9; } .live::before { content:"●"; margin-right:4px; color:#9aa; }
.live-running::before { color:#4f4; } .live-unknown::before, .live-crashed::before { color:#f96; }
main { max-width:1280px; margin:0 auto; padding:16px 24px 48px; }
h1 { font-size:22px; margin:8px 0 8px; } h2 { font-size:16px; margin:0 0 10px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; margin:14px 0; overflow-x:auto; }
.two-col { display:grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap:0 14px; }
.run-links { display:flex; flex-wrap:wrap; gap:6px; margin:4px 0 6px; }
.run-links a { padding:4px 10px; border:1px solid var(--line); border-radius:14px; background:#fff; }
table.grid { border-collapse:collapse; width:100%; font-size:13px; }
.grid th, .grid td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
.grid th { color:var(--muted); font-weight:600; background:#fafbfc; position:sticky; top:0; }
.grid tbody tr:hover { background:#f6f9ff; }
.grid.fields td:first-child { white-space:nowrap; width:1%; }
.grid.fields td:last-child { word-break: break-word; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:4px 14px; margin:0 0 10px; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
.task { display:inline-block; min-width:28px; text-align:center; padding:1px 7px; border-radius:10px; color:#fff; font-weight:600; font-size:12px; }
.task-complete { background:rgb(0,160,0); } .task-failed { background:rgb(200,0,0); } .task-memo { background:rgb(64,200,64); color:#000; }
.status { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; border:1px solid; }
.status-completed { color:#116611; border-color:#8c8; background:#efe; }
.status-running { color:#114488; border-color:#8ad; background:#eef5ff; }
.status-failed, .status-crashed { color:#a00; border-color:#e99; background:#fff0f0; }
.status-interrupted, .status-unknown { color:#8a5a00; border-color:#e6c27a; background:#fff8e6; }
.state { display:inline-block; padding:0 7px; border-radius:9px; font-size:12px; border-left:10px solid var(--c); background:#f1f3f6; }
.state-bar { display:flex; height:14px; border-radius:4px; overflow:hidden; background:#eee; margin:6px 0; }
.state-list { list-style:none; padding:0; margin:6px 0 0; display:flex; flex-wrap:wrap; gap:6px 16px; }
.chart-box { margin:6px 0 10px; } .chart-box figcaption { font-weight:600; }
svg.chart { width:100%; height:auto; display:block; background:#fff; }
.chart-title { font-size:14px; font-weight:600; fill:var(--fg); }
.tick { font-size:11px; fill:var(--muted); } .axis-label { font-size:12px; fill:var(--fg); }
.axis { stroke:#889; stroke-width:1; } .gridline { stroke:#e8ebf0; stroke-width:1; }
.edge { stroke:#aaa; stroke-width:1; fill:none; opacity:.8; } .edge-label { font-size:11px; fill:var(--muted); }
.app-name { font-size:12px; font-weight:600; fill:var(--fg); } .app-count { font-size:12px; fill:var(--muted); }
.dag-scroll { overflow:auto; max-height:720px; border:1px solid var(--line); border-radius:6px; }
.dag-node circle:hover, .app-node:hover rect:first-child { stroke:#000; }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; font-size:12px; margin-top:6px; color:var(--fg); }
.swatch { display:inline-block; width:14px; height:10px; margin-right:5px; vertical-align:middle; border:1px solid; }
.swatch.dashed { background:transparent !important; border-style:dashed; height:2px; }
.controls { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin-bottom:8px; }
.controls input, .controls select, button { font:inherit; padding:3px 6px; border:1px solid #bcc4d0; border-radius:4px; background:#fff; }
button { cursor:pointer; } button:disabled { opacity:.45; cursor:default; }
.pager { display:flex; gap:8px; align-items:center; margin-top:10px; }
.note { color:var(--muted); font-size:12px; margin:4px 0; } .empty { color:var(--muted); font-style:italic; }
.error-box { background:#fff0f0; border:1px solid #e99; color:#900; padding:10px 12px; border-radius:6px; }
.loading { color:var(--muted); }
`;
