/**
 * Writes a progress view to a stream: on a terminal the block of lines is redrawn in place
 * (cursor hidden while it runs, shown again by close(), also at process exit and on Ctrl-C);
 * elsewhere one plain line per call, and only when the line changed.
 */
import { renderBlock, renderLine, type ProgressSnapshot } from "./render.js";

const HIDE = "\x1b[?25l";
const SHOW = "\x1b[?25h";

export interface LiveOptions {
  /** Redraw in place (default: the stream is a TTY). */
  tty?: boolean;
  /** Colour (default: tty and NO_COLOR unset). */
  color?: boolean;
}

export class LiveView {
  readonly tty: boolean;
  private readonly color: boolean;
  private drawn = 0;
  private lastLine = "";
  private closed = false;
  private readonly restore = (): void => {
    if (this.tty && !this.closed) this.stream.write(SHOW);
  };

  constructor(
    private readonly stream: NodeJS.WriteStream,
    options: LiveOptions = {},
  ) {
    this.tty = options.tty ?? stream.isTTY === true;
    this.color = options.color ?? (this.tty && !("NO_COLOR" in process.env));
    if (this.tty) {
      stream.write(HIDE);
      process.on("exit", this.restore);
    }
  }

  /** Shows the snapshot. Returns whether anything was written. */
  update(s: ProgressSnapshot): boolean {
    if (this.closed) return false;
    if (!this.tty) {
      // The clock, rate or ETA alone changing is not news: compare the line without them.
      const line = renderLine(s);
      const key = renderLine({ ...s, elapsed_s: 0, rate: null });
      if (key === this.lastLine) return false;
      this.lastLine = key;
      this.stream.write(line + "\n");
      return true;
    }
    const lines = renderBlock(s, { width: (this.stream.columns || 80) - 1, color: this.color });
    // Up to the first line of the previous block, then each line cleared and rewritten; leftover lines cleared.
    let out = this.drawn > 0 ? `\x1b[${this.drawn}F` : "";
    for (const l of lines) out += `\x1b[2K${l}\n`;
    for (let i = lines.length; i < this.drawn; i++) out += "\x1b[2K\n";
    if (this.drawn > lines.length) out += `\x1b[${this.drawn - lines.length}F`;
    this.stream.write(out);
    this.drawn = lines.length;
    return true;
  }

  /** Removes the live block (a terminal only) so a final line can take its place. */
  clear(): void {
    if (!this.tty || this.drawn === 0 || this.closed) return;
    let out = `\x1b[${this.drawn}F`;
    for (let i = 0; i < this.drawn; i++) out += "\x1b[2K\n";
    out += `\x1b[${this.drawn}F`;
    this.stream.write(out);
    this.drawn = 0;
  }

  /** Leaves the last view on screen and gives the cursor back. */
  close(): void {
    if (this.closed) return;
    this.restore();
    this.closed = true;
    process.off("exit", this.restore);
  }
}
