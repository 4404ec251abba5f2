/**
 * Framing of batches on the writer's stdin: 4-byte little-endian payload length, then the
 * payload: the marker `PTSW` + wire version (1 byte), f64 seq, u32 event count, and the events
 * in their binary wire form (wire.ts). The reader treats the stream as untrusted: an implausible
 * header is reported and the reader resynchronises on the next marker that follows a header.
 */
import type { Batch, MonitoringEvent } from "./messages.js";
import { InvalidEventError, validateEvent } from "./validate.js";
import { ByteReader, ByteWriter, readEvent, writeEvent } from "./wire.js";

export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** Every payload starts with these bytes: a marker and the wire version. */
const MARKER = Buffer.from("PTSW\x01", "latin1");
const HEADER_BYTES = MARKER.length + 8 + 4;

/**
 * Encodes a batch as one frame. An event that cannot be represented (a BigInt, a cycle) is
 * left out and passed to `onUnencodable`; the frame's count covers only the events written.
 * Throws RangeError when the frame would exceed MAX_FRAME_BYTES.
 */
export function encodeFrame(batch: Batch, onUnencodable?: (e: MonitoringEvent, err: Error) => void): Buffer {
  const w = new ByteWriter(4 + HEADER_BYTES + batch.events.length * 48);
  w.u32(0); // length, filled in below
  w.ensure(MARKER.length);
  w.at += MARKER.copy(w.buf, w.at);
  w.f64(batch.seq);
  const countAt = w.at;
  w.u32(0);
  let n = 0;
  for (const e of batch.events) {
    const at = w.at;
    try {
      writeEvent(w, e);
      n++;
    } catch (err) {
      w.at = at;
      if (!onUnencodable) throw err;
      onUnencodable(e, err as Error);
    }
    if (w.at - 4 > MAX_FRAME_BYTES) {
      throw new RangeError(`monitoring batch ${batch.seq} is over the ${MAX_FRAME_BYTES}-byte frame limit`);
    }
  }
  w.buf.writeUInt32LE(w.at - 4, 0);
  w.buf.writeUInt32LE(n, countAt);
  return w.buf.subarray(0, w.at);
}

/** A frame payload's header, and a reader positioned at its first event. */
export function openPayload(payload: Buffer): { seq: number; count: number; events: ByteReader } {
  if (payload.length < HEADER_BYTES || !payload.subarray(0, MARKER.length).equals(MARKER)) {
    throw new RangeError(`a frame of ${payload.length} bytes does not start with a version-${MARKER[4]} batch header`);
  }
  const seq = payload.readDoubleLE(MARKER.length);
  if (!Number.isSafeInteger(seq) || seq < 0)
    throw new RangeError(`a frame's batch number is ${seq}, not a non-negative integer`);
  return { seq, count: payload.readUInt32LE(MARKER.length + 8), events: new ByteReader(payload, HEADER_BYTES) };
}

/**
 * Reads and validates a frame's events. Never throws: whatever cannot be used is described in
 * `problems` (an unusable header loses the frame; a bad record only itself; an unreadable one
 * the rest of the frame), and every event returned has passed validateEvent. The events are
 * appended to `into` when given (the writer gathers a transaction's frames in one array).
 */
export function decodeBatch(
  payload: Buffer,
  into: MonitoringEvent[] = [],
): { seq: number | null; events: MonitoringEvent[]; problems: string[] } {
  const problems: string[] = [];
  let header: ReturnType<typeof openPayload>;
  try {
    header = openPayload(payload);
  } catch (err) {
    return { seq: null, events: into, problems: [(err as Error).message] };
  }
  const { seq, count, events: reader } = header;
  const events = into;
  for (let i = 0; i < count; i++) {
    try {
      events.push(validateEvent(readEvent(reader)));
    } catch (err) {
      if (err instanceof InvalidEventError) {
        problems.push(`batch ${seq}: ${err.message}`);
        continue;
      }
      // TruncatedError, or anything unforeseen: the next record's start is unknown.
      problems.push(`batch ${seq}: events ${i + 1}..${count} cannot be read (${(err as Error).message})`);
      return { seq, events, problems };
    }
  }
  if (!reader.done) problems.push(`batch ${seq}: ${reader.end - reader.at} bytes after its ${count} events`);
  return { seq, events, problems };
}

export type FrameItem = { payload: Buffer } | { corrupt: string };

export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Bytes received that are not yet a complete frame. */
  get buffered(): number {
    return this.length;
  }

  /** The next complete frame payload, a corruption report, or null if more bytes are needed. */
  next(): FrameItem | null {
    if (this.length < 4 + MARKER.length) return null;
    const head = this.contiguous(4 + MARKER.length);
    const len = head.readUInt32LE(0);
    if (len < HEADER_BYTES || len > MAX_FRAME_BYTES || !head.subarray(4, 4 + MARKER.length).equals(MARKER)) {
      const skipped = this.resync();
      return { corrupt: `bad frame header (length ${len}); skipped ${skipped} bytes to the next frame` };
    }
    if (this.length < 4 + len) return null;
    const all = this.contiguous(4 + len);
    const payload = all.subarray(4, 4 + len);
    this.consume(4 + len);
    return { payload };
  }

  /**
   * Makes the first `n` bytes one Buffer. Only when a frame spans chunks are bytes copied, and
   * then only its `n`: joining everything buffered copied the whole next read (up to 16 MiB)
   * for each frame that crossed into it.
   */
  private contiguous(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const joined = Buffer.allocUnsafe(n);
    let have = 0;
    let k = 0;
    while (have < n) {
      const c = this.chunks[k]!;
      const take = Math.min(c.length, n - have);
      c.copy(joined, have, 0, take);
      have += take;
      if (take < c.length) this.chunks[k] = c.subarray(take);
      else k++;
    }
    this.chunks.splice(0, k, joined);
    return joined;
  }

  private consume(n: number): void {
    const first = this.chunks[0]!;
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.length -= n;
  }

  /** Drops bytes up to the header of the next marker; returns how many were dropped. */
  private resync(): number {
    const all = this.contiguous(this.length);
    const at = all.indexOf(MARKER, 5);
    const drop = at >= 4 ? at - 4 : Math.max(1, this.length - (MARKER.length + 3));
    this.consume(drop);
    return drop;
  }
}
