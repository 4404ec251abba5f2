/**
 * Resource samples from Linux /proc for a process and its living descendants (spec §2.5, §6.3).
 *
 * CPU times are the process's own plus its reaped children's (`cutime`/`cstime`, which is
 * how a finished bash command stays counted) plus every living descendant's. Context switches
 * of descendants that have exited are remembered by the `ProcessTreeSampler` that saw them.
 * On systems without /proc the sampler returns null and no resource row is written.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import type { ResourceSample } from "./protocol.js";
import { nowMicros } from "./protocol.js";

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100; // the Linux default (USER_HZ)
    }
  }
  return clockTicks;
}

let pageSize = 0;
function pageBytes(): number {
  if (pageSize === 0) {
    try {
      pageSize = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).trim()) || 4096;
    } catch {
      pageSize = 4096;
    }
  }
  return pageSize;
}

const STATUS_NAMES: Record<string, string> = {
  R: "running",
  S: "sleeping",
  D: "disk-sleep",
  Z: "zombie",
  T: "stopped",
  t: "tracing-stop",
  X: "dead",
  x: "dead",
  I: "idle",
  W: "waking",
  P: "parked",
  K: "wake-kill",
};

interface ProcFacts {
  state: string;
  cpu: number;
  /** seconds, own + reaped children */
  user: number;
  system: number;
  vms: number;
  rss: number;
  readChars: number;
  writeChars: number;
  ctxVoluntary: number;
  ctxInvoluntary: number;
}

function readProc(pid: number): ProcFacts | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "latin1");
  } catch {
    return null;
  }
  // Fields after the command name (which may contain spaces and parentheses).
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const field = (n: number): number => Number(rest[n - 3]);
  const hz = ticksPerSecond();
  const facts: ProcFacts = {
    state: rest[0] ?? "?",
    cpu: field(39),
    user: (field(14) + field(16)) / hz,
    system: (field(15) + field(17)) / hz,
    vms: field(23),
    rss: field(24) * pageBytes(),
    readChars: 0,
    writeChars: 0,
    ctxVoluntary: 0,
    ctxInvoluntary: 0,
  };
  try {
    const status = readFileSync(`/proc/${pid}/status`, "latin1");
    facts.ctxVoluntary = numberAfter(status, "\nvoluntary_ctxt_switches:");
    facts.ctxInvoluntary = numberAfter(status, "\nnonvoluntary_ctxt_switches:");
  } catch {
    /* process gone between reads: keep zeros */
  }
  try {
    const io = readFileSync(`/proc/${pid}/io`, "latin1");
    facts.readChars = numberAfter("\n" + io, "\nrchar:");
    facts.writeChars = numberAfter("\n" + io, "\nwchar:");
  } catch {
    /* io counters unreadable: 0, as spec §6.3 says */
  }
  return facts;
}

function numberAfter(text: string, key: string): number {
  const i = text.indexOf(key);
  if (i < 0) return 0;
  return parseInt(text.slice(i + key.length).trimStart(), 10) || 0;
}

/** Direct children of a process (needs CONFIG_PROC_CHILDREN, standard on distribution kernels). */
export function childrenOf(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1").trim();
    return text === "" ? [] : text.split(" ").map(Number);
  } catch {
    return [];
  }
}

function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const stack = childrenOf(pid);
  while (stack.length > 0 && out.length < 10_000) {
    const p = stack.pop()!;
    out.push(p);
    for (const c of childrenOf(p)) stack.push(c);
  }
  return out;
}

export const procAvailable = (() => {
  try {
    readFileSync("/proc/self/stat");
    return true;
  } catch {
    return false;
  }
})();

/** Samples one process tree; remembers exited descendants' context switches between samples. */
export class ProcessTreeSampler {
  private lastCtx = new Map<number, [number, number]>();
  private exitedCtx: [number, number] = [0, 0];
  private readonly memTotal = totalmem();

  constructor(readonly pid: number) {}

  sample(): ResourceSample | null {
    if (!procAvailable) return null;
    const self = readProc(this.pid);
    if (!self) return null;
    const kids = descendantsOf(this.pid);
    let user = self.user,
      system = self.system,
      vms = self.vms,
      rss = self.rss;
    let rd = self.readChars,
      wr = self.writeChars;
    let vol = self.ctxVoluntary + this.exitedCtx[0],
      invol = self.ctxInvoluntary + this.exitedCtx[1];
    const alive = new Set<number>();
    for (const k of kids) {
      const f = readProc(k);
      if (!f) continue;
      alive.add(k);
      user += f.user;
      system += f.system;
      vms += f.vms;
      rss += f.rss;
      rd += f.readChars;
      wr += f.writeChars;
      vol += f.ctxVoluntary;
      invol += f.ctxInvoluntary;
      this.lastCtx.set(k, [f.ctxVoluntary, f.ctxInvoluntary]);
    }
    for (const [k, v] of this.lastCtx) {
      if (!alive.has(k)) {
        this.exitedCtx[0] += v[0];
        this.exitedCtx[1] += v[1];
        vol += v[0];
        invol += v[1];
        this.lastCtx.delete(k);
      }
    }
    return {
      timestamp: nowMicros(),
      psutil_process_pid: this.pid,
      psutil_process_memory_percent: this.memTotal > 0 ? (rss / this.memTotal) * 100 : 0,
      psutil_process_children_count: alive.size,
      psutil_process_time_user: round6(user),
      psutil_process_time_system: round6(system),
      psutil_process_memory_virtual: vms,
      psutil_process_memory_resident: rss,
      psutil_process_disk_read: rd,
      psutil_process_disk_write: wr,
      psutil_process_status: STATUS_NAMES[self.state] ?? self.state,
      psutil_cpu_num: String(self.cpu),
      psutil_process_num_ctx_switches_voluntary: vol,
      psutil_process_num_ctx_switches_involuntary: invol,
    };
  }
}

/**
 * A try's figures from a reading taken during or at the end of it: cumulative counters (CPU
 * times, I/O characters, context switches) counted from `base`, the reading at the try's start,
 * so a worker's earlier tries never count towards a later one. Gauges (memory, status, CPU
 * number, children) are as read. Counters never go below zero (a base read by another sampler
 * may have remembered slightly more exited descendants).
 */
export function sinceBaseline(s: ResourceSample, base: ResourceSample | null): ResourceSample {
  if (base === null) return s;
  const d = (k: CounterKey): number => Math.max(0, s[k] - base[k]);
  return {
    ...s,
    psutil_process_time_user: round6(d("psutil_process_time_user")),
    psutil_process_time_system: round6(d("psutil_process_time_system")),
    psutil_process_disk_read: d("psutil_process_disk_read"),
    psutil_process_disk_write: d("psutil_process_disk_write"),
    psutil_process_num_ctx_switches_voluntary: d("psutil_process_num_ctx_switches_voluntary"),
    psutil_process_num_ctx_switches_involuntary: d("psutil_process_num_ctx_switches_involuntary"),
  };
}

type CounterKey =
  | "psutil_process_time_user"
  | "psutil_process_time_system"
  | "psutil_process_disk_read"
  | "psutil_process_disk_write"
  | "psutil_process_num_ctx_switches_voluntary"
  | "psutil_process_num_ctx_switches_involuntary";

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Physical cores (Parsl stores psutil.cpu_count(logical=False)); falls back to logical CPUs. */
export function physicalCoreCount(logical: number): number {
  try {
    const info = readFileSync("/proc/cpuinfo", "latin1");
    const cores = new Set<string>();
    let phys = "0";
    for (const line of info.split("\n")) {
      if (line.startsWith("physical id")) phys = line.split(":")[1]!.trim();
      else if (line.startsWith("core id")) cores.add(`${phys}:${line.split(":")[1]!.trim()}`);
    }
    return cores.size > 0 ? cores.size : logical;
  } catch {
    return logical;
  }
}
