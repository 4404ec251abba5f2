/**
 * HTML shells of the visualizer pages. The server fills in which page and which run/task/app it
 * is; the browser module (/static/app.js) fetches the data from the JSON API and draws it, and
 * keeps it fresh while the run is live.
 */
import { escapeHtml } from "./http-util.js";

export type PageKind = "workflows" | "workflow" | "tasks" | "task" | "dag" | "resources";

export interface PageParams {
  kind: PageKind;
  title: string;
  run?: string;
  app?: string;
  task?: number;
  group?: "apps" | "states";
}

export function pageHtml(p: PageParams): string {
  const data: string[] = [`data-page="${p.kind}"`];
  if (p.run !== undefined) data.push(`data-run="${escapeHtml(p.run)}"`);
  if (p.app !== undefined) data.push(`data-app="${escapeHtml(p.app)}"`);
  if (p.task !== undefined) data.push(`data-task="${p.task}"`);
  if (p.group !== undefined) data.push(`data-group="${p.group}"`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)} · Parsl Monitoring Interface</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="data:,">
</head>
<body ${data.join(" ")}>
<header class="topbar">
  <a class="brand" href="/">parsl-ts <span>monitoring</span></a>
  <nav><a href="/">Workflows</a><a href="https://parsl.readthedocs.io/en/stable/userguide/advanced/monitoring.html" rel="noreferrer">Documentation</a></nav>
  <span id="live" class="live" title="live updates"></span>
</header>
<main id="main"><p class="loading">Loading…</p></main>
<noscript><p class="error-box">This page needs JavaScript to draw its tables and charts. The JSON API under /api/ works without it.</p></noscript>
<script type="module" src="/static/app.js"></script>
</body>
</html>
`;
}

export function errorHtml(status: number, message: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Error ${status} · Parsl Monitoring Interface</title><link rel="stylesheet" href="/static/style.css"></head>
<body data-page="error">
<header class="topbar"><a class="brand" href="/">parsl-ts <span>monitoring</span></a><nav><a href="/">Workflows</a></nav></header>
<main id="main"><h1>Error ${status}</h1><p class="error-box" id="error-message">${escapeHtml(message)}</p><p><a href="/">Back to the workflows list</a></p></main>
</body>
</html>
`;
}
