import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseEndpoint } from "../src/database/endpoint.js";
import { parseVisualizeArgs } from "../src/visualizer/cli.js";
import { msToNaive, naiveToMs } from "../src/visualizer/timefmt.js";
import { STATE_COLORS } from "../src/visualizer/client/colors.js";
import { STATE_NAMES } from "../src/database/schema.js";

test("every task state has Parsl's Gantt colour", () => {
  for (const st of STATE_NAMES) assert.ok(STATE_COLORS[st], `no colour for ${st}`);
  assert.equal(STATE_COLORS["exec_done"], "rgb(0, 200, 0)");
  assert.equal(STATE_COLORS["failed"], "rgb(200, 0, 0)");
  assert.equal(STATE_COLORS["pending"], "rgb(168, 168, 168)");
});

test("database argument: paths and SQLAlchemy-style URLs", () => {
  assert.deepEqual(parseEndpoint("runinfo/monitoring.db", "/w"), { kind: "sqlite", path: "/w/runinfo/monitoring.db" });
  assert.deepEqual(parseEndpoint("sqlite:///runinfo/m.db", "/w"), { kind: "sqlite", path: "/w/runinfo/m.db" });
  assert.deepEqual(parseEndpoint("sqlite:////abs/m.db", "/w"), { kind: "sqlite", path: path.resolve("/abs/m.db") });
  assert.equal(parseEndpoint("postgresql://u@h/db").kind, "postgresql");
  assert.throws(() => parseEndpoint("sqlite://"), /has no file path/);
  assert.throws(() => parseEndpoint("mysql://x/y"), /unsupported scheme 'mysql'/);
  assert.throws(() => parseEndpoint("  "), /empty/);
});

test("CLI arguments", () => {
  assert.deepEqual(parseVisualizeArgs([]), {
    db: "runinfo/monitoring.db",
    port: 8080,
    listen: "127.0.0.1",
    help: false,
  });
  assert.deepEqual(parseVisualizeArgs(["x.db", "--port", "0", "--listen=0.0.0.0"]), {
    db: "x.db",
    port: 0,
    listen: "0.0.0.0",
    help: false,
  });
  assert.equal(parseVisualizeArgs(["-p", "9000"]).port, 9000);
  assert.throws(() => parseVisualizeArgs(["--port", "99999"]), /--port must be an integer from 0 to 65535/);
  assert.throws(() => parseVisualizeArgs(["--port"]), /needs a value/);
  assert.throws(() => parseVisualizeArgs(["--bogus"]), /unknown option --bogus/);
  assert.throws(() => parseVisualizeArgs(["a.db", "b.db"]), /only one database/);
});

test("naive timestamps round-trip at microsecond precision", () => {
  const s = "2026-11-24 21:52:07.544016";
  const ms = naiveToMs(s);
  assert.ok(ms !== null);
  assert.equal(msToNaive(ms), s);
  assert.equal(naiveToMs("not a time"), null);
  assert.equal(naiveToMs(null), null);
});

test("an aggregate worker that cannot start fails each request at once instead of stalling the queue", () => {
  // Node's permission model without --allow-worker makes `new Worker` throw synchronously.
  const permission = process.allowedNodeEnvironmentFlags.has("--permission")
    ? "--permission"
    : "--experimental-permission";
  const heavy = fileURLToPath(new URL("../src/visualizer/heavy.js", import.meta.url));
  const script = `
import { HeavyQueries } from ${JSON.stringify(heavy)};
const q = new HeavyQueries("/nonexistent.db");
for (const m of ["dagSummary", "resources", "triesOverTime"]) {
  try { await q.get(m, "run", "t1"); console.log(m, "resolved"); } catch (e) { console.log(m, "rejected", e.code); }
}
await q.close();
`;
  const r = spawnSync(
    process.execPath,
    [permission, "--allow-fs-read=*", "--no-warnings", "--input-type=module", "-e", script],
    { encoding: "utf8", timeout: 20_000 },
  );
  assert.equal(r.signal, null, `timed out: ${r.stdout}${r.stderr}`);
  assert.equal(
    r.stdout.trim(),
    ["dagSummary", "resources", "triesOverTime"].map((m) => `${m} rejected ERR_ACCESS_DENIED`).join("\n"),
    r.stderr,
  );
  assert.match(r.stderr, /aggregate worker failed to start/);
});
