/**
 * What one log channel shows, decided without VS Code: lines are collected between flushes and
 * written as one append; the channel never holds more than `maxLines`. When it would, the oldest
 * lines go and a notice at the top says how many went. Trimming keeps half the cap (or the new
 * batch, if larger), so a chatty source rewrites the channel once per half-cap lines rather than
 * at every batch. Lines that pile up faster than flushes run are capped the same way.
 */

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

export interface BufferedLine {
  text: string;
  /** For channels that show levels (a LogOutputChannel); plain channels ignore it. */
  level?: LogLevel;
}

/** One write to the channel: add lines at the end, or replace everything with these lines. */
export interface LogWrite {
  kind: 'append' | 'replace';
  lines: BufferedLine[];
}

export const minMaxLines = 100;

export function droppedNotice(droppedLines: number, maxLines: number): BufferedLine {
  return { text: `… ${droppedLines.toLocaleString('en-US')} lines dropped: this channel keeps the last ${maxLines.toLocaleString('en-US')} (switchyard.logs.maxLines)`, level: 'warn' };
}

export class LogBuffer {
  private maxLines: number;
  private pending: BufferedLine[] = [];
  /** Index of the first pending line still kept (older ones were dropped on overflow). */
  private pendingStart = 0;
  /** The lines the channel holds, oldest first, without the notice. */
  private shown: BufferedLine[] = [];
  private _droppedLines = 0;
  /** The count the notice in the channel states; -1 while there is no notice. */
  private noticeCount = -1;
  private needsTrim = false;

  constructor(maxLines: number) {
    this.maxLines = Math.max(minMaxLines, Math.floor(maxLines));
  }

  /** Lines dropped so far (trimmed from the channel or never shown). */
  get droppedLines(): number {
    return this._droppedLines;
  }

  get pendingCount(): number {
    return this.pending.length - this.pendingStart;
  }

  /** Lines in the channel after the last flush, notice included. */
  get channelLines(): number {
    return this.shown.length + (this.noticeCount >= 0 ? 1 : 0);
  }

  push(line: BufferedLine): void {
    this.pending.push(line);
    if (this.pending.length - this.pendingStart > this.maxLines) {
      // More than a channel can hold arrived before a flush: the oldest will never be shown.
      this.pendingStart++;
      this._droppedLines++;
      if (this.pendingStart > 4096 && this.pendingStart * 2 > this.pending.length) {
        this.pending = this.pending.slice(this.pendingStart);
        this.pendingStart = 0;
      }
    }
  }

  setMaxLines(maxLines: number): void {
    const next = Math.max(minMaxLines, Math.floor(maxLines));
    if (next === this.maxLines) return;
    this.maxLines = next;
    if (this.channelLines > next) this.needsTrim = true;
    while (this.pending.length - this.pendingStart > next) {
      this.pendingStart++;
      this._droppedLines++;
    }
  }

  /** The write that brings the channel up to date, or undefined when there is nothing to write. */
  flush(): LogWrite | undefined {
    const fresh = this.pendingStart === 0 ? this.pending : this.pending.slice(this.pendingStart);
    this.pending = [];
    this.pendingStart = 0;
    if (fresh.length === 0 && !this.needsTrim) return undefined;
    this.needsTrim = false;
    const noticeLines = this.noticeCount >= 0 ? 1 : 0;
    const fits = this.shown.length + noticeLines + fresh.length <= this.maxLines;
    const isNoticeCurrent = this._droppedLines === 0 || this.noticeCount === this._droppedLines;
    if (fits && isNoticeCurrent) {
      for (const line of fresh) this.shown.push(line);
      return { kind: 'append', lines: fresh };
    }
    const all = this.shown.length === 0 ? fresh : this.shown.concat(fresh);
    const limit = this.maxLines - 1;
    const keep = all.length <= limit ? all.length : Math.min(limit, Math.max(fresh.length, Math.floor(this.maxLines / 2)));
    this._droppedLines += all.length - keep;
    this.shown = all.slice(all.length - keep);
    this.noticeCount = this._droppedLines;
    return { kind: 'replace', lines: [droppedNotice(this._droppedLines, this.maxLines), ...this.shown] };
  }

  /** The channel was emptied (e.g. a restart of the stream in a cleared channel). */
  reset(): void {
    this.pending = [];
    this.pendingStart = 0;
    this.shown = [];
    this._droppedLines = 0;
    this.noticeCount = -1;
    this.needsTrim = false;
  }
}
