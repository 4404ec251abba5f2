/** The recorder's row builders: the resource row's columns come from schema.ts, and nothing else gets in. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RESOURCE } from "../src/database/schema.js";
import { blockRow, isResourceSample, nodeRow, resourceRow, type ResourceSample } from "../src/monitoring/recorder.js";
import { validateEvent } from "../src/monitoring/validate.js";

const sample: ResourceSample = {
  timestamp: 1_700_000_000_000_000,
  psutil_process_pid: 42,
  psutil_process_memory_percent: 1.5,
  psutil_process_children_count: 0,
  psutil_process_time_user: 0.25,
  psutil_process_time_system: 0.125,
  psutil_process_memory_virtual: 1e9,
  psutil_process_memory_resident: 5e7,
  psutil_process_disk_read: 10,
  psutil_process_disk_write: 20,
  psutil_process_status: "running",
  psutil_cpu_num: "3",
  psutil_process_num_ctx_switches_voluntary: 7,
  psutil_process_num_ctx_switches_involuntary: 1,
};

test("a resource row has exactly the resource table's columns (run_id aside), whatever the sample carried", () => {
  const tainted = { ...sample, evil: "DROP TABLE", run_id: "other-run" } as ResourceSample;
  const ev = resourceRow(5, 1, 1_700_000_000_000_001, 0.5, tainted);
  const expected = RESOURCE.columns
    .map((c) => c.name)
    .filter((n) => n !== "run_id")
    .sort();
  assert.deepEqual(Object.keys(ev.row).sort(), expected);
  assert.equal(ev.row.task_id, 5);
  assert.equal(ev.row.try_id, 1);
  assert.equal(ev.row.timestamp, 1_700_000_000_000_001, "the corrected time, not the sample's");
  assert.equal(ev.row.psutil_cpu_num, "3");
  assert.doesNotThrow(() => validateEvent(ev), "the writer accepts it");
});

test("isResourceSample: every psutil column with its schema type, text bounded", () => {
  assert.equal(isResourceSample(sample), true);
  const { psutil_process_disk_read: _gone, ...missing } = sample;
  assert.equal(isResourceSample(missing), false);
  assert.equal(isResourceSample({ ...sample, psutil_cpu_num: 3 }), false, "TEXT column given a number");
  assert.equal(isResourceSample({ ...sample, psutil_process_time_user: "0.1" }), false, "FLOAT column given text");
  assert.equal(isResourceSample({ ...sample, psutil_process_status: "x".repeat(65) }), false);
  assert.equal(isResourceSample({ ...sample, psutil_process_pid: 1.5 }), false);
  assert.equal(isResourceSample({ ...sample, timestamp: Number.NaN }), false);
  assert.equal(isResourceSample(null), false);
});

test("node and block rows pass the writer's validation", () => {
  const node = nodeRow({
    hostname: "h",
    uid: "u",
    block_id: "0",
    cpu_count: 4,
    total_memory: 8e9,
    active: true,
    worker_count: 2,
    python_v: "v20",
    timestamp: 1_700_000_000_000_000,
    last_heartbeat: 1_700_000_000_000_000,
  });
  assert.doesNotThrow(() => validateEvent(node));
  const block = blockRow("htex", "0", null, 1_700_000_000_000_000, "PENDING");
  assert.deepEqual(block.row, {
    executor_label: "htex",
    block_id: "0",
    job_id: null,
    timestamp: 1_700_000_000_000_000,
    status: "PENDING",
  });
  assert.doesNotThrow(() => validateEvent(block));
});
