/** The database writer's own CPU time, for benches that weigh each process's cost per task. */
import fs from "node:fs";
import path from "node:path";

/** Seconds of CPU the run's writer process used, from the line it logs when it exits (null if none). */
export function writerCpuSeconds(runDir: string): number | null {
  let text = "";
  try {
    for (const d of fs.readdirSync(runDir)) {
      const f = path.join(runDir, d, "database_manager.log");
      if (fs.existsSync(f)) text += fs.readFileSync(f, "utf8");
    }
  } catch {
    return null;
  }
  const m = /CPU time ([\d.]+) s/.exec(text);
  return m ? Number(m[1]) : null;
}
