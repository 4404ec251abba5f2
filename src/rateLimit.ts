/**
 * Folding of repeated reports, so a stream of garbage (malformed monitoring data, strangers on
 * the interchange's port) cannot flood a log or a terminal: the first of a kind is reported at
 * once, the rest of its window as one summary line with their count.
 */

/**
 * Reports the first occurrence of a kind of problem at once and folds repeats within
 * `windowMs` into one summary line.
 */
export class RateLimitedReporter {
  private suppressed = 0;
  private latest = "";
  private windowOpen = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly report: (message: string) => void,
    private readonly windowMs = 1000,
  ) {}

  add(message: string): void {
    if (!this.windowOpen) {
      this.windowOpen = true;
      this.report(message);
      this.timer = setTimeout(() => this.closeWindow(), this.windowMs);
      this.timer.unref();
      return;
    }
    this.suppressed++;
    this.latest = message;
  }

  /** Reports what is still folded (call before exiting). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.closeWindow();
  }

  private closeWindow(): void {
    this.timer = null;
    this.windowOpen = false;
    if (this.suppressed > 0) {
      this.report(`${this.suppressed} more like this (latest: ${this.latest})`);
      this.suppressed = 0;
      this.latest = "";
    }
  }
}
