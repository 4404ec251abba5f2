/**
 * Memoization and checkpoints (Parsl's BasicMemoizer semantics).
 *
 * - A task of an app with `cache: true` gets a hashsum once its arguments are resolved.
 *   If an earlier task of this run (or a loaded checkpoint) with the same hashsum has
 *   completed, its outcome is reused (`memo_done`, or the failure replayed) without running.
 * - Successful results are written to `<runDir>/NNN/checkpoint/tasks.jsonl`, one JSON line
 *   per result (`{"hash", "result"}`, the result in V8's serialization, base64), when the
 *   checkpoint mode says so: `task_exit` (at once), `periodic`, `dfk_exit`, `manual`.
 */
import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import { parsePeriod, type CheckpointMode } from "../config.js";
import { BadCheckpoint } from "../errors.js";

export const CHECKPOINT_FILE = "tasks.jsonl";

export type MemoOutcome = { ok: true; value: unknown } | { ok: false; error: Error };

export interface MemoizerOptions {
  /** Global switch (Config.appCache). */
  memoize: boolean;
  checkpointMode: CheckpointMode | null;
  /** "HH:MM:SS", required for `periodic`. */
  checkpointPeriod: string | null;
  /** Checkpoint directories to load (`<run>/checkpoint`). */
  checkpointFiles: readonly string[] | null;
}

export type MemoLog = (level: "debug" | "info" | "warning" | "error", message: string) => void;

export class Memoizer {
  #table = new Map<string, MemoOutcome>();
  #pending: string[] = [];
  #checkpointed = 0;
  #dir: string | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    readonly options: MemoizerOptions,
    private readonly log: MemoLog,
  ) {
    if (options.checkpointMode === "periodic") parsePeriod(options.checkpointPeriod);
  }

  /** Load earlier checkpoints and start the periodic timer. */
  start(runDir: string, configRunDir: string): void {
    this.#dir = path.join(runDir, "checkpoint");
    const dirs = this.options.checkpointFiles ?? (this.options.checkpointMode ? getAllCheckpoints(configRunDir) : []);
    for (const d of dirs) {
      const n = loadCheckpointDir(d, this.#table);
      this.log("info", `loaded ${n} checkpointed results from ${d}`);
    }
    if (!this.options.memoize) this.#table.clear();
    if (this.options.checkpointMode === "periodic") {
      const ms = parsePeriod(this.options.checkpointPeriod) * 1000;
      this.#timer = setInterval(() => this.checkpoint(), ms);
      this.#timer.unref();
    }
  }

  /** Lookup by hashsum. */
  lookup(hash: string): MemoOutcome | undefined {
    return this.#table.get(hash);
  }

  /** Record a final outcome (success or failure, as Parsl does) and checkpoint successes per the mode. */
  record(hash: string, outcome: MemoOutcome): void {
    this.#table.set(hash, outcome);
    if (!outcome.ok || this.options.checkpointMode === null) return;
    this.#pending.push(hash);
    if (this.options.checkpointMode === "task_exit") this.checkpoint();
  }

  /** Write queued successful results to this run's checkpoint file. Returns how many were written. */
  checkpoint(): number {
    if (!this.#dir) return 0;
    const lines: string[] = [];
    for (const hash of this.#pending) {
      const o = this.#table.get(hash);
      if (!o || !o.ok) continue;
      let result: string;
      try {
        result = v8.serialize(o.value).toString("base64");
      } catch (e) {
        this.log("warning", `result with hashsum ${hash} cannot be checkpointed: ${(e as Error).message}`);
        continue;
      }
      lines.push(JSON.stringify({ hash, result }));
    }
    this.#pending = [];
    if (lines.length > 0) {
      fs.mkdirSync(this.#dir, { recursive: true });
      fs.appendFileSync(path.join(this.#dir, CHECKPOINT_FILE), lines.join("\n") + "\n");
      this.#checkpointed += lines.length;
    }
    if (this.#checkpointed === 0)
      this.log("info", "No tasks checkpointed so far in this run. Please ensure caching is enabled");
    return lines.length;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.options.checkpointMode !== null) this.checkpoint();
  }
}

/** Read one checkpoint directory into `table`; a missing or unreadable file is a BadCheckpoint. */
export function loadCheckpointDir(dir: string, table: Map<string, MemoOutcome>): number {
  const file = path.join(dir, CHECKPOINT_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new BadCheckpoint(`cannot read checkpoint ${file}: ${(e as Error).message}`);
  }
  let n = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    try {
      const rec = JSON.parse(line) as { hash?: unknown; result?: unknown };
      if (typeof rec.hash !== "string" || typeof rec.result !== "string") throw new Error("missing hash or result");
      table.set(rec.hash, { ok: true, value: v8.deserialize(Buffer.from(rec.result, "base64")) });
      n++;
    } catch (e) {
      // A torn last line (the process died mid-write) is expected; anything else is corruption.
      if (i === lines.length - 1 || (i === lines.length - 2 && lines[lines.length - 1] === "")) continue;
      throw new BadCheckpoint(`checkpoint ${file} line ${i + 1} is corrupt: ${(e as Error).message}`);
    }
  }
  return n;
}

function numberedRunDirs(configRunDir: string): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(configRunDir);
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e))
    .sort((a, b) => Number(a) - Number(b))
    .map((e) => path.join(configRunDir, e));
}

/** Every `<configRunDir>/NNN/checkpoint` that exists, oldest run first. */
export function getAllCheckpoints(configRunDir = "runinfo"): string[] {
  return numberedRunDirs(configRunDir)
    .map((d) => path.join(d, "checkpoint"))
    .filter((d) => fs.existsSync(path.join(d, CHECKPOINT_FILE)));
}

/** The newest run's checkpoint directory, as a one-element array (empty if none). */
export function getLastCheckpoint(configRunDir = "runinfo"): string[] {
  const all = getAllCheckpoints(configRunDir);
  return all.length > 0 ? [all[all.length - 1]!] : [];
}
