/**
 * Frames of the pool protocol (interchange <-> worker pool, over TCP or TLS): a 4-byte
 * unsigned length in BIG-endian (network) byte order, then the payload. Not the monitoring
 * journal's framing (monitoring/frames.ts), which is little-endian and carries a marker: the
 * two streams never meet, so each keeps the order natural to its medium.
 * The decoder refuses frames larger than its limit (a garbage length prefix must not make
 * us buffer gigabytes) by throwing; the caller closes the connection.
 */

export class FrameTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`frame of ${size} bytes exceeds the limit of ${limit} bytes`);
    this.name = "FrameTooLargeError";
  }
}

export function encodePoolFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, 4);
  return out;
}

/** Writes header and payload without copying the payload into a new buffer. */
export function writePoolFrame(
  socket: { cork(): void; uncork(): void; write(b: Uint8Array): boolean },
  payload: Uint8Array,
): void {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(payload.length, 0);
  socket.cork();
  socket.write(head);
  socket.write(payload);
  socket.uncork();
}

export class PoolFrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(public maxFrameBytes: number) {}

  /** Bytes received that do not yet make a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Feed bytes; returns every complete frame they finish. Throws FrameTooLargeError. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= 4) {
      const head = this.peekHeader();
      if (head > this.maxFrameBytes) throw new FrameTooLargeError(head, this.maxFrameBytes);
      if (this.buffered < 4 + head) break;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
      frames.push(all.subarray(4, 4 + head));
      const rest = all.subarray(4 + head);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return frames;
  }

  private peekHeader(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }
}
