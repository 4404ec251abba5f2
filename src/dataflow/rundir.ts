/** Per-run directories: `<runDir>/000`, `001`, … one higher than the largest existing. */
import fs from "node:fs";
import path from "node:path";

export function makeRunDir(configRunDir: string): string {
  fs.mkdirSync(configRunDir, { recursive: true });
  for (let attempt = 0; attempt < 100; attempt++) {
    const nums = fs
      .readdirSync(configRunDir)
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
    const next = nums.length > 0 ? Math.max(...nums) + 1 : 0;
    const dir = path.resolve(configRunDir, String(next).padStart(3, "0"));
    try {
      fs.mkdirSync(dir); // fails if another run took the number first
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  throw new Error(`could not create a new run directory under ${configRunDir}`);
}
