/**
 * Framing of batches on the writer's stdin: 4-byte little-endian payload length, then the
 * UTF-8 JSON of a `Batch` whose events are in their wire form (wire.ts). The reader treats the stream as untrusted: an implausible header
 * is reported and the reader resynchronises on the next `{"seq":` that follows a header.
 */
import type { Batch } from "./messages.js";
import { toWire } from "./wire.js";

export const MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** Every encoded batch starts with these bytes (JSON.stringify keeps key order). */
const MARKER = Buffer.from('{"seq":');

export function encodeFrame(batch: Batch): Buffer {
  const json = JSON.stringify({ seq: batch.seq, events: batch.events.map(toWire) });
  const len = Buffer.byteLength(json);
  if (len > MAX_FRAME_BYTES) throw new RangeError(`monitoring batch ${batch.seq} is ${len} bytes, over the ${MAX_FRAME_BYTES}-byte frame limit`);
  const frame = Buffer.allocUnsafe(4 + len);
  frame.writeUInt32LE(len, 0);
  frame.write(json, 4, "utf8");
  return frame;
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
    if (len < MARKER.length + 1 || len > MAX_FRAME_BYTES || !head.subarray(4, 4 + MARKER.length).equals(MARKER)) {
      const skipped = this.resync();
      return { corrupt: `bad frame header (length ${len}); skipped ${skipped} bytes to the next frame` };
    }
    if (this.length < 4 + len) return null;
    const all = this.contiguous(4 + len);
    const payload = all.subarray(4, 4 + len);
    this.consume(4 + len);
    return { payload };
  }

  /** Makes the first `n` bytes one Buffer (joining chunks only when a frame spans several). */
  private contiguous(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0]!;
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
