/**
 * The monitoring journal: an append-only file in the run directory between the kernel and the
 * database writer. The kernel appends framed batches (frames.ts) with plain synchronous writes,
 * which cost about as much as a memcpy into the page cache and never wait for the database; the
 * writer process reads the file in order and stores it. So the workflow runs at its own pace
 * whatever the database does, the kernel's memory stays bounded, a killed writer resumes from the
 * last committed byte, and a killed kernel loses only the events it had not yet flushed (at
 * most one flush interval). The writer deletes the file once it has stored all of it.
 *
 * A write is all or nothing: a partial write (a full disk) is cut back off the file, and frames
 * that do not fit wait in memory (`held`) until space returns, so the file only ever holds
 * whole frames in order.
 */
import fs from "node:fs";
import nodePath from "node:path";
import { FrameReader } from "./frames.js";

/** The journal's name inside a run directory. */
export const JOURNAL_FILE = "monitoring.journal";
/** Bytes written (and cut off again) at start to check the disk has room. */
const PROBE_BYTES = 64 * 1024;

export class JournalAppender {
  private fd: number;
  private size = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private heldFramesTotal = 0;
  private lastError: NodeJS.ErrnoException | null = null;

  /**
   * Creates (or truncates) the journal and makes sure it can grow: a disk that is already full
   * is an error at start, naming the path, not a surprise later.
   */
  constructor(readonly path: string) {
    let fd = -1;
    try {
      fs.mkdirSync(nodePath.dirname(path), { recursive: true });
      fd = fs.openSync(path, "w");
      fs.writeSync(fd, Buffer.alloc(PROBE_BYTES), 0, PROBE_BYTES, 0);
      fs.ftruncateSync(fd, 0);
    } catch (err) {
      if (fd >= 0) {
        fs.closeSync(fd);
        fs.rmSync(path, { force: true });
      }
      throw new Error(`cannot write the monitoring journal ${path}: ${(err as Error).message}`);
    }
    this.fd = fd;
  }

  /** Bytes of whole frames in the file. */
  get bytes(): number {
    return this.size;
  }

  /** Frames (and their bytes) waiting in memory because the file could not take them. */
  get waiting(): { frames: number; bytes: number } {
    return { frames: this.held.length, bytes: this.heldBytes };
  }

  /** Why the last append could not write, while frames wait (e.g. ENOSPC). */
  get problem(): NodeJS.ErrnoException | null {
    return this.held.length > 0 ? this.lastError : null;
  }

  /**
   * Appends a frame after any that wait. Returns false when it had to wait in memory (the
   * file refused: a full disk, a quota); call retry() later. Never throws.
   */
  append(frame: Buffer): boolean {
    if (this.held.length > 0 && !this.retry()) {
      this.hold(frame);
      return false;
    }
    if (this.write(frame)) return true;
    this.hold(frame);
    return false;
  }

  /** Writes the frames that wait in memory, in order; true when none waits any more. */
  retry(): boolean {
    while (this.held.length > 0) {
      const frame = this.held[0]!;
      if (!this.write(frame)) return false;
      this.held.shift();
      this.heldBytes -= frame.length;
    }
    return true;
  }

  /** Frames ever held in memory (for reports). */
  get heldEver(): number {
    return this.heldFramesTotal;
  }

  /** Closes and deletes the file (a run whose writer never started). */
  discard(): void {
    this.close();
    fs.rmSync(this.path, { force: true });
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* nothing to do */
    }
    this.fd = -1;
  }

  private hold(frame: Buffer): void {
    this.held.push(frame);
    this.heldBytes += frame.length;
    this.heldFramesTotal++;
  }

  /** One whole frame at the end of the file, or nothing (a partial write is cut back off). */
  private write(frame: Buffer): boolean {
    if (this.fd < 0) return false;
    let done = 0;
    try {
      while (done < frame.length) done += fs.writeSync(this.fd, frame, done, frame.length - done, this.size + done);
    } catch (err) {
      this.lastError = err as NodeJS.ErrnoException;
      if (done > 0) {
        try {
          fs.ftruncateSync(this.fd, this.size);
        } catch {
          /* the reader stops at a frame it cannot complete and reports it */
        }
      }
      return false;
    }
    this.size += frame.length;
    this.lastError = null;
    return true;
  }
}

/** A complete frame read from the journal, and the file offset just after it. */
export interface JournalFrame {
  payload: Buffer;
  end: number;
}

/**
 * The writer's side: reads the journal from an offset, as much as has been appended (in
 * bounded chunks), and splits it into frames. A frame still being written is left for the next read; damage is reported and
 * skipped by the frame reader's resynchronisation.
 */
export class JournalTail {
  private readonly fd: number;
  private readonly reader = new FrameReader();
  /** File offset of the next byte to read. */
  private at: number;

  constructor(
    readonly path: string,
    from: number,
  ) {
    this.fd = fs.openSync(path, "r");
    this.at = from;
  }

  /** Offset just after the last byte handed to the frame reader. */
  get offset(): number {
    return this.at;
  }

  /** Bytes read that do not yet make a whole frame. */
  get partial(): number {
    return this.reader.buffered;
  }

  /**
   * Reads what has been appended since the last call (up to `maxBytes`) and returns the frames
   * it completes, plus reports of damaged bytes skipped.
   */
  read(maxBytes = 16 * 2 ** 20): { frames: JournalFrame[]; corrupt: string[]; bytes: number } {
    const frames: JournalFrame[] = [];
    const corrupt: string[] = [];
    const available = Math.min(maxBytes, fs.fstatSync(this.fd).size - this.at);
    if (available <= 0) return { frames, corrupt, bytes: 0 };
    // A fresh buffer per read: the frame reader and the queued frames keep slices of it.
    const buf = Buffer.allocUnsafe(available);
    let n = 0;
    while (n < available) {
      const got = fs.readSync(this.fd, buf, n, available - n, this.at + n);
      if (got === 0) break;
      n += got;
    }
    this.reader.push(n === available ? buf : buf.subarray(0, n));
    this.at += n;
    for (let item = this.reader.next(); item !== null; item = this.reader.next()) {
      if ("corrupt" in item) corrupt.push(item.corrupt);
      else frames.push({ payload: item.payload, end: this.at - this.reader.buffered });
    }
    return { frames, corrupt, bytes: n };
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* nothing to do */
    }
  }
}
