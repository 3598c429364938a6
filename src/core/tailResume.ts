/**
 * Picking a followed file up again after the connection dropped. Files have no `since`: the new
 * `tail -n <lookback>` repeats the file's last lines, so the lines are held back until the last
 * lines already shown are found among them; only what follows them is new. If they are not found
 * (the file was rotated, or more than `lookback` lines were written meanwhile) everything is shown
 * with a notice that lines may repeat or be missing.
 */

export const resumeContextLines = 5;

export interface TailResumeResult {
  lines: string[];
  /** Set when the place could not be found. */
  notice?: string;
}

export class TailResume {
  private held: string[] = [];
  private isSettled = false;

  constructor(
    /** The last lines shown before the drop, oldest first (at most `resumeContextLines`). */
    private readonly seen: readonly string[],
    /** How many lines `tail -n` repeats. */
    private readonly lookback: number,
  ) {
    if (seen.length === 0) this.isSettled = true;
  }

  get isDone(): boolean {
    return this.isSettled;
  }

  /** New lines from the resumed tail; returns what may be shown now. */
  feed(lines: readonly string[]): TailResumeResult {
    if (this.isSettled) return { lines: [...lines] };
    for (const line of lines) this.held.push(line);
    // The first `lookback` lines are the repeat; once that many are in, the place is among them.
    if (this.held.length >= this.lookback + this.seen.length) return this.settle();
    return { lines: [] };
  }

  /** The repeat is over (no more lines came for a moment): decide with what was held. */
  settle(): TailResumeResult {
    if (this.isSettled) return { lines: [] };
    this.isSettled = true;
    const held = this.held;
    this.held = [];
    const at = lastIndexOfSequence(held, this.seen);
    if (at >= 0) return { lines: held.slice(at + this.seen.length) };
    return {
      lines: held,
      notice: `could not find where it left off (the file was rotated, or more than ${this.lookback} lines were written meanwhile): some lines may repeat or be missing`,
    };
  }
}

function lastIndexOfSequence(lines: readonly string[], sequence: readonly string[]): number {
  outer: for (let start = lines.length - sequence.length; start >= 0; start--) {
    for (let i = 0; i < sequence.length; i++) if (lines[start + i] !== sequence[i]) continue outer;
    return start;
  }
  return -1;
}

/** Splits a byte stream into text lines (a chunk may end mid-line or mid-character). */
export class LineSplitter {
  private parts: Uint8Array[] = [];
  private readonly decoder = new TextDecoder('utf-8');

  feed(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      this.parts.push(chunk.subarray(start, nl));
      lines.push(this.take());
      start = nl + 1;
    }
    if (start < chunk.length) this.parts.push(chunk.slice(start));
    return lines;
  }

  end(): string[] {
    return this.parts.length ? [this.take()] : [];
  }

  private take(): string {
    let size = 0;
    for (const part of this.parts) size += part.length;
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const part of this.parts) {
      bytes.set(part, at);
      at += part.length;
    }
    this.parts = [];
    const text = this.decoder.decode(bytes);
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }
}
