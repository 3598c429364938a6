/**
 * Moves lines from a stream to a sink in batches. A trickle is written as it comes (on the next turn
 * of the event loop, so a burst that arrives together goes together, and at most one write per
 * `minIntervalMs`), so a line shows within milliseconds. Once lines come in bulk (`bulkLines` waiting
 * when a write is due) writes happen once per `batchMs`: a flood costs ten channel writes a second,
 * not thousands. Timers are injected so the logic runs in tests without waiting.
 */
import { LogBuffer, type BufferedLine, type LogWrite } from './logBuffer';

export interface PumpClock {
  now(): number;
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface LogSink {
  write(write: LogWrite): void;
}

export interface PumpTiming {
  /** Under a flood: one write per this interval. */
  batchMs: number;
  /** A trickle: writes no closer than this (about one a frame). */
  minIntervalMs: number;
  /** This many lines waiting make it a flood. */
  bulkLines: number;
}

export const defaultPumpTiming: PumpTiming = { batchMs: 100, minIntervalMs: 16, bulkLines: 200 };

export class LogPump {
  private timer: unknown;
  private lastFlushAt = Number.NEGATIVE_INFINITY;
  private isDisposed = false;

  constructor(
    readonly buffer: LogBuffer,
    private readonly sink: LogSink,
    private readonly clock: PumpClock,
    private readonly timing: PumpTiming = defaultPumpTiming,
  ) {}

  push(lines: readonly BufferedLine[]): void {
    if (this.isDisposed || lines.length === 0) return;
    for (const line of lines) this.buffer.push(line);
    this.schedule();
  }

  setMaxLines(maxLines: number): void {
    this.buffer.setMaxLines(maxLines);
    this.schedule();
  }

  /** Writes what is pending now (e.g. before a notice that must follow the lines). */
  flushNow(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.lastFlushAt = this.clock.now();
    const write = this.buffer.flush();
    if (write) this.sink.write(write);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.isDisposed) return;
    this.arm(this.lastFlushAt + this.timing.minIntervalMs);
  }

  private arm(atMs: number): void {
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, atMs - this.clock.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.isDisposed) return;
    // Lines are coming in bulk: wait for the batch interval so a flood is a few large writes.
    const batchDueAt = this.lastFlushAt + this.timing.batchMs;
    if (this.buffer.pendingCount >= this.timing.bulkLines && this.clock.now() < batchDueAt) {
      this.arm(batchDueAt);
      return;
    }
    this.flushNow();
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.flushNow();
    this.isDisposed = true;
  }
}

/** The real clock, for the editor and benches. */
export const systemClock: PumpClock = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
