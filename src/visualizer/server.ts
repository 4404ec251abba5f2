/**
 * The visualizer's HTTP server: page shells, static assets (served from this package, never a
 * CDN) and the JSON API. Every request is validated; user errors get a 4xx with a clear message,
 * and unexpected failures a 500 without internals.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { STATE_NAMES } from "../database/schema.js";
import { STYLE_CSS } from "./style.js";
import { errorHtml, pageHtml, type PageParams } from "./pages.js";
import {
  HttpError,
  checkRunId,
  decodeSegment,
  intParam,
  noNul,
  parseTaskId,
  send,
  sendJson,
  textParam,
} from "./http-util.js";
import type { HeavyMethod } from "./heavy.js";
import type { DagSummary, MonitoringReader } from "./reader.js";

/** Computes whole-run aggregates off the request path (see heavy.ts). */
export interface HeavyRunner {
  get<T>(method: HeavyMethod, runId: string, token: string): Promise<T>;
  warm(runId: string, token: string): void;
  close(): Promise<void>;
}

/** Runner that computes on the reader itself, uncached (for tests and embedders without heavy.ts). */
export function inlineHeavy(reader: MonitoringReader): HeavyRunner {
  return {
    get: async <T>(method: HeavyMethod, runId: string): Promise<T> => (await reader[method](runId)) as T,
    warm: () => undefined,
    close: async () => undefined,
  };
}

const MAX_ID = 1e15;

/** Browser modules compiled from ./client/*.ts, found next to this file at run time. */
function loadClientAssets(): Map<string, Buffer> {
  const dir = new URL("./client/", import.meta.url);
  const assets = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir)) {
    if (/^[a-z0-9-]+\.js$/.test(name)) assets.set(name, fs.readFileSync(new URL(name, dir)));
  }
  return assets;
}

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

export class VisualizerServer {
  private readonly server: http.Server;
  /** When bound to loopback, only loopback Host headers are served (blocks DNS-rebinding pages). */
  private loopbackOnly = false;
  private readonly assets = loadClientAssets();

  constructor(
    private readonly reader: MonitoringReader,
    private readonly heavy: HeavyRunner = inlineHeavy(reader),
  ) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  listen(port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        const a = this.server.address() as AddressInfo;
        this.loopbackOnly = a.address === "::1" || a.address.startsWith("127.");
        const h = a.family === "IPv6" ? `[${a.address}]` : a.address;
        resolve(`http://${h}:${a.port}/`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Starts computing the newest run's aggregates so its first page view is fast. */
  async warmUp(): Promise<void> {
    const newest = (await this.reader.listWorkflows(0, 1)).rows[0];
    if (newest) this.heavy.warm(newest.run_id, await this.reader.changeToken());
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Every answer under /api/ is JSON, errors included, whatever stage refuses the request.
    const wantsHtml = !/^\/api(\/|\?|$)/.test(req.url ?? "/");
    try {
      if (req.method !== "GET" && req.method !== "HEAD")
        throw new HttpError(405, `method ${req.method ?? "?"} not allowed; this server is read-only`);
      if (this.loopbackOnly) {
        const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
        if (!LOOPBACK_HOSTS.has(host))
          throw new HttpError(
            403,
            `host ${JSON.stringify(host.slice(0, 80))} not allowed: this server only answers loopback names`,
          );
      }
      const url = new URL(req.url ?? "/", "http://localhost");
      // "/workflow/x/" and "/workflow/x" are the same page; "/" is [""].
      const parts = url.pathname.split("/").slice(1);
      if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
      await this.route(url, parts, res);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof HttpError ? e.message : "internal error while reading the monitoring database";
      if (!(e instanceof HttpError))
        console.error(`visualizer: ${req.method} ${req.url}:`, e instanceof Error ? e.message : e);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (wantsHtml) send(res, status, "text/html; charset=utf-8", errorHtml(status, message));
      else sendJson(res, status, { error: message, status });
    }
  }

  private page(res: http.ServerResponse, p: PageParams): void {
    send(res, 200, "text/html; charset=utf-8", pageHtml(p), { "Cache-Control": "no-store" });
  }

  private async knownRun(raw: string): Promise<string> {
    const run = checkRunId(decodeSegment(raw));
    if (!(await this.reader.workflowExists(run))) throw new HttpError(404, `Workflow ${run} could not be found`);
    return run;
  }

  private async route(url: URL, parts: string[], res: http.ServerResponse): Promise<void> {
    const [a, b, c, d] = parts;
    if (parts.length === 1 && a === "") return this.page(res, { kind: "workflows", title: "Workflows" });
    if (a === "static" && parts.length === 2 && b !== undefined) return this.serveStatic(b, res);
    if (a === "api") return this.api(url, parts.slice(1), res);
    if (a === "workflow" && b !== undefined) {
      const run = await this.knownRun(b);
      const n = parts.length;
      if (n === 2) return this.page(res, { kind: "workflow", title: "Workflow", run });
      if (n === 3 && c === "resource_usage") return this.page(res, { kind: "resources", title: "Resource usage", run });
      if (n === 3 && c === "dag_group_by_apps")
        return this.page(res, { kind: "dag", title: "DAG by app", run, group: "apps" });
      if (n === 3 && c === "dag_group_by_states")
        return this.page(res, { kind: "dag", title: "DAG by state", run, group: "states" });
      if (n === 3 && c === "task") return this.page(res, { kind: "tasks", title: "All apps", run });
      if (n === 4 && c === "task" && d !== undefined) {
        const task = parseTaskId(decodeSegment(d));
        if (!(await this.reader.taskExists(run, task)))
          throw new HttpError(404, `Task ${task} of workflow ${run} could not be found`);
        return this.page(res, { kind: "task", title: `Task ${task}`, run, task });
      }
      if (n === 4 && c === "app" && d !== undefined) {
        const app = decodeSegment(d);
        if (app.length === 0 || app.length > 512) throw new HttpError(400, "app name must be 1 to 512 characters");
        noNul(app, "app name");
        if (!(await this.reader.appExists(run, app)))
          throw new HttpError(404, `App ${JSON.stringify(app)} has no tasks in workflow ${run}`);
        return this.page(res, { kind: "tasks", title: `App ${app}`, run, app });
      }
    }
    throw new HttpError(404, `no such page: ${url.pathname.slice(0, 200)}`);
  }

  private serveStatic(name: string, res: http.ServerResponse): void {
    if (name === "style.css")
      return send(res, 200, "text/css; charset=utf-8", STYLE_CSS, { "Cache-Control": "max-age=60" });
    const body = this.assets.get(name);
    if (!body) throw new HttpError(404, `no such static file: ${name.slice(0, 100)}`);
    send(res, 200, "text/javascript; charset=utf-8", body, { "Cache-Control": "max-age=60" });
  }

  private async heavyJson(res: http.ServerResponse, method: HeavyMethod, run: string): Promise<void> {
    sendJson(res, 200, await this.heavy.get(method, run, await this.reader.changeToken()));
  }

  private async api(url: URL, p: string[], res: http.ServerResponse): Promise<void> {
    const q = url.searchParams;
    const r = this.reader;
    const [a, b, c, d] = p;
    if (a === "changes" && p.length === 1) return sendJson(res, 200, { token: await r.changeToken() });
    if (a !== "workflows") throw new HttpError(404, `no such API endpoint: ${url.pathname.slice(0, 200)}`);
    if (p.length === 1) {
      const offset = intParam(q, "offset", 0, 0, MAX_ID)!;
      const limit = intParam(q, "limit", 100, 1, 500)!;
      return sendJson(res, 200, await r.listWorkflows(offset, limit));
    }
    const run = await this.knownRun(b ?? "");
    if (p.length === 2) return sendJson(res, 200, await r.workflowSummary(run));
    if (p.length === 3) {
      switch (c) {
        case "changes": {
          const [s, token] = await Promise.all([r.runStatus(run), r.changeToken()]);
          return sendJson(res, 200, { token, status: s.status, status_reason: s.status_reason });
        }
        case "tasks": {
          const state = textParam(q, "state", 32);
          if (state !== undefined && !(STATE_NAMES as string[]).includes(state))
            throw new HttpError(400, `unknown state ${JSON.stringify(state)}`);
          const app = textParam(q, "app", 512);
          if (app !== undefined && !(await r.appExists(run, app)))
            throw new HttpError(404, `App ${JSON.stringify(app)} has no tasks in workflow ${run}`);
          const offset = intParam(q, "offset", 0, 0, MAX_ID)!;
          const limit = intParam(q, "limit", 100, 1, 1000)!;
          return sendJson(
            res,
            200,
            await r.listTasks(
              run,
              { ...(app !== undefined ? { app } : {}), ...(state !== undefined ? { state } : {}) },
              offset,
              limit,
            ),
          );
        }
        case "gantt": {
          const from = intParam(q, "from", null, 0, MAX_ID);
          const to = intParam(q, "to", null, 0, MAX_ID);
          if (from !== null && to !== null && to < from)
            throw new HttpError(400, `"to" (${to}) is smaller than "from" (${from})`);
          const rows = intParam(q, "rows", 300, 1, 1000)!;
          return sendJson(res, 200, await r.gantt(run, from, to, rows));
        }
        case "tries":
          return this.heavyJson(res, "triesOverTime", run);
        case "dag": {
          const from = intParam(q, "from", 0, 0, MAX_ID)!;
          const limit = intParam(q, "limit", 300, 1, 2000)!;
          const [window, summary] = await Promise.all([
            r.dagWindow(run, from, limit),
            r.changeToken().then((token) => this.heavy.get<DagSummary>("dagSummary", run, token)),
          ]);
          return sendJson(res, 200, { ...summary, window });
        }
        case "dag_window": {
          const from = intParam(q, "from", 0, 0, MAX_ID)!;
          const limit = intParam(q, "limit", 300, 1, 2000)!;
          return sendJson(res, 200, await r.dagWindow(run, from, limit));
        }
        case "dag_summary":
          return this.heavyJson(res, "dagSummary", run);
        case "resources":
          return this.heavyJson(res, "resources", run);
        case "history":
          return this.heavyJson(res, "appHistory", run);
        default:
          break; // other names: the 404 below
      }
    }
    if (p.length === 4 && c === "tasks" && d !== undefined) {
      const task = parseTaskId(decodeSegment(d));
      const detail = await r.taskDetail(run, task);
      if (!detail) throw new HttpError(404, `Task ${task} of workflow ${run} could not be found`);
      return sendJson(res, 200, detail);
    }
    throw new HttpError(404, `no such API endpoint: ${url.pathname.slice(0, 200)}`);
  }
}
