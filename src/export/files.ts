/**
 * Output files of an export: each is written as `NAME.partial` and renamed when complete, so a
 * directory never holds a half-written file under its real name (an interrupted export leaves
 * only `.partial` files behind).
 */
import fs from "node:fs";
import path from "node:path";

/** The export cannot be done as asked (output directory, existing files); the message says why. */
export class ExportError extends Error {
  override readonly name = "ExportError";
}

/** A file-system error as a short reason (the path is named by the caller). */
function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOTDIR: "a part of its path is a file, not a directory",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EROFS: "the file system is read-only",
    ENOSPC: "no space left on the device",
    ENOENT: "a part of its path does not exist",
  };
  return code && words[code] ? `${words[code]} (${code})` : (e as Error).message;
}

/** Checks that `dir` is (or can become) a writable directory; creates it. Errors name the path and the reason. */
export function prepareDirectory(dir: string): string {
  const abs = path.resolve(dir);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new ExportError(`cannot use ${dir} as the output directory: ${reason(e)}`);
  }
  if (st && !st.isDirectory())
    throw new ExportError(`output ${dir} is a file, not a directory (-o names a directory to write the tables into)`);
  if (!st) {
    try {
      fs.mkdirSync(abs, { recursive: true });
    } catch (e) {
      throw new ExportError(`cannot create output directory ${dir}: ${reason(e)}`);
    }
  }
  try {
    fs.accessSync(abs, fs.constants.W_OK);
  } catch {
    throw new ExportError(`output directory ${dir} is not writable (permission denied)`);
  }
  return abs;
}

/** Refuses to overwrite earlier output unless asked to. */
export function checkTargets(dir: string, names: readonly string[], overwrite: boolean, shown = dir): void {
  if (overwrite) return;
  const present = names.filter((n) => fs.existsSync(path.join(dir, n)));
  if (present.length > 0) {
    throw new ExportError(`${shown} already holds ${present.join(", ")} (use --force to overwrite)`);
  }
}

/** A file written through a handle, appended chunk by chunk; `commit()` renames it into place. */
export class OutputFile {
  private bytesWritten = 0;

  private constructor(
    readonly file: string,
    private readonly handle: fs.promises.FileHandle,
  ) {}

  static async create(dir: string, name: string): Promise<OutputFile> {
    const file = path.join(dir, name);
    return new OutputFile(file, await fs.promises.open(file + ".partial", "w"));
  }

  get bytes(): number {
    return this.bytesWritten;
  }

  async write(data: string | Uint8Array): Promise<void> {
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < buf.length) off += (await this.handle.write(buf, off, buf.length - off)).bytesWritten;
    this.bytesWritten += buf.length;
  }

  async commit(): Promise<void> {
    await this.handle.close();
    await fs.promises.rename(this.file + ".partial", this.file);
  }

  /** Closes and removes the partial file (after an error). */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await fs.promises.rm(this.file + ".partial", { force: true });
  }
}
