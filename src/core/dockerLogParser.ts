/**
 * Turns the bytes of Docker's `GET /containers/{id}/logs` into lines. Without a TTY the stream is
 * multiplexed: each frame is an 8-byte header (stream type, 3 zero bytes, payload size as uint32 BE)
 * and its payload. With `timestamps=1` every log message starts with `<RFC3339Nano> `; a message
 * longer than 16 KiB is split by Docker into partial messages, each with its own timestamp, and
 * only the last one ends with a newline. Chunks may split anything anywhere: headers, timestamps,
 * UTF-8 characters.
 */

export type LogStreamKind = 'stdout' | 'stderr';

export interface LogLine {
  stream: LogStreamKind;
  /** Docker's timestamp, normalized to `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (compares as a string). */
  timestamp?: string;
  text: string;
}

const newline = 0x0a;
const space = 0x20;
const headerBytes = 8;
const decoder = new TextDecoder('utf-8');
const timestampPattern = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const fixedTimestampPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;
/** Longest `2006-01-02T15:04:05.999999999+07:00`, plus the space after it. */
const maxTimestampBytes = 36;

/** A Docker timestamp in the fixed form that sorts as text, or undefined when it is not one. */
export function normalizeTimestamp(text: string): string | undefined {
  const match = timestampPattern.exec(text);
  if (!match) return undefined;
  const nanos = (match[2] ?? '').padEnd(9, '0');
  if (match[3] === 'Z') return `${match[1]}.${nanos}Z`;
  const ms = Date.parse(`${match[1]}${match[3]}`);
  if (!Number.isFinite(ms)) return undefined;
  return `${new Date(ms).toISOString().slice(0, 19)}.${nanos}Z`;
}

/** Docker's `since` query value (`<seconds>.<nanoseconds>`) for a normalized timestamp. */
export function sinceParam(timestamp: string): string {
  const seconds = Math.floor(Date.parse(`${timestamp.slice(0, 19)}Z`) / 1000);
  return `${seconds}.${timestamp.slice(20, 29)}`;
}

/** Milliseconds since the epoch of a normalized timestamp (sub-millisecond digits dropped). */
export function timestampMs(timestamp: string): number {
  return Date.parse(`${timestamp.slice(0, 23)}Z`);
}

/** Splits `<timestamp> <rest>` at the start of a message; `rest` starts after the space. */
function splitTimestamp(bytes: Uint8Array): { timestamp?: string; restAt: number } {
  const limit = Math.min(bytes.length, maxTimestampBytes);
  for (let i = 0; i < limit; i++) {
    if (bytes[i] !== space) continue;
    const ascii = String.fromCharCode.apply(null, bytes.subarray(0, i) as unknown as number[]);
    // Docker writes RFC3339NanoFixed (always nine digits, UTC): take it as is.
    const timestamp = i === 30 && fixedTimestampPattern.test(ascii) ? ascii : normalizeTimestamp(ascii);
    return timestamp ? { timestamp, restAt: i + 1 } : { restAt: 0 };
  }
  return { restAt: 0 };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function decodeLine(bytes: Uint8Array): string {
  const text = decoder.decode(bytes);
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** The unfinished line of one output stream. */
class PendingLine {
  parts: Uint8Array[] = [];
  size = 0;
  timestamp?: string;

  get isEmpty(): boolean {
    return this.parts.length === 0;
  }

  add(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  take(): Uint8Array {
    const bytes = concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return bytes;
  }
}

export interface DockerLogParserOptions {
  /** The container has a TTY: one raw stream (stdout), no frame headers. */
  isTty: boolean;
}

/** Feed it chunks as they arrive; it returns the lines they complete. */
export class DockerLogParser {
  private readonly isTty: boolean;
  private readonly pending: Record<LogStreamKind, PendingLine> = { stdout: new PendingLine(), stderr: new PendingLine() };
  /** A frame header cut by a chunk boundary. */
  private header = new Uint8Array(headerBytes);
  private headerFill = 0;
  private frameStream: LogStreamKind = 'stdout';
  private frameLeft = 0;
  /** The current frame's payload, collected until complete (a frame is one Docker message). */
  private frame = new PendingLine();

  constructor(options: DockerLogParserOptions) {
    this.isTty = options.isTty;
  }

  feed(chunk: Uint8Array): LogLine[] {
    const lines: LogLine[] = [];
    if (this.isTty) this.feedRaw(chunk, lines);
    else this.feedFrames(chunk, lines);
    return lines;
  }

  /** The stream ended: what is left becomes lines (a last line without a newline). */
  end(): LogLine[] {
    const lines: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const pending = this.pending[stream];
      if (pending.isEmpty) continue;
      const bytes = pending.take();
      if (!this.isTty) {
        lines.push(this.line(stream, pending.timestamp, bytes));
        continue;
      }
      const { timestamp, restAt } = splitTimestamp(bytes);
      lines.push(this.line(stream, timestamp, bytes.subarray(restAt)));
    }
    return lines;
  }

  private line(stream: LogStreamKind, timestamp: string | undefined, bytes: Uint8Array): LogLine {
    return timestamp ? { stream, timestamp, text: decodeLine(bytes) } : { stream, text: decodeLine(bytes) };
  }

  private feedFrames(chunk: Uint8Array, lines: LogLine[]): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.frameLeft === 0) {
        const take = Math.min(headerBytes - this.headerFill, chunk.length - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFill);
        this.headerFill += take;
        at += take;
        if (this.headerFill < headerBytes) return;
        this.headerFill = 0;
        this.frameStream = this.header[0] === 2 ? 'stderr' : 'stdout';
        this.frameLeft = ((this.header[4] << 24) >>> 0) + (this.header[5] << 16) + (this.header[6] << 8) + this.header[7];
        continue;
      }
      const take = Math.min(this.frameLeft, chunk.length - at);
      this.frame.add(chunk.subarray(at, at + take));
      this.frameLeft -= take;
      at += take;
      if (this.frameLeft === 0) this.onFrame(this.frameStream, this.frame.take(), lines);
    }
  }

  /** One whole Docker message: `<timestamp> <text>`, ending with a newline unless it is partial. */
  private onFrame(stream: LogStreamKind, payload: Uint8Array, lines: LogLine[]): void {
    const pending = this.pending[stream];
    const { timestamp, restAt } = splitTimestamp(payload);
    // A continuation of a partial message keeps the first part's timestamp.
    if (pending.isEmpty) pending.timestamp = timestamp;
    let start = restAt;
    for (let nl = payload.indexOf(newline, start); nl >= 0; nl = payload.indexOf(newline, start)) {
      pending.add(payload.subarray(start, nl));
      lines.push(this.line(stream, pending.timestamp, pending.take()));
      pending.timestamp = timestamp;
      start = nl + 1;
    }
    pending.add(payload.subarray(start));
  }

  /** TTY: one byte stream; every line starts with its timestamp. */
  private feedRaw(chunk: Uint8Array, lines: LogLine[]): void {
    const pending = this.pending.stdout;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(newline, start);
      const end = nl < 0 ? chunk.length : nl;
      pending.add(chunk.subarray(start, end));
      if (nl < 0) return;
      const bytes = pending.take();
      const { timestamp, restAt } = splitTimestamp(bytes);
      lines.push(this.line('stdout', timestamp, bytes.subarray(restAt)));
      start = nl + 1;
    }
  }
}

/**
 * Where a Docker log stream got to, per output stream. Docker stamps each stream's messages in the
 * order it reads them, so within stdout (and within stderr) timestamps only grow: a line not newer
 * than the last one shown of its stream was shown already. That drops what a re-attach with `since`
 * repeats (Docker's `since` is inclusive), and the blocks of earlier lines that Docker 20.10's
 * json-file follow sometimes sends again mid-stream. (A wall clock stepped backwards on the host
 * would hide lines until it catches up; NTP slews rather than steps.)
 */
export class LogCursor {
  private last: Partial<Record<LogStreamKind, string>> = {};
  /** Lines dropped as already shown. */
  repeatsDropped = 0;

  constructor(state?: LogCursorState) {
    if (state) this.last = { ...state };
  }

  get state(): LogCursorState | undefined {
    return this.last.stdout || this.last.stderr ? { ...this.last } : undefined;
  }

  /** Docker's `since` for a re-attach: the newest line shown; undefined before the first timestamped line. */
  get since(): string | undefined {
    const { stdout, stderr } = this.last;
    const newest = stdout && stderr ? (stdout > stderr ? stdout : stderr) : (stdout ?? stderr);
    return newest ? sinceParam(newest) : undefined;
  }

  /** Whether to show the line; records it when so. */
  accept(line: LogLine): boolean {
    const timestamp = line.timestamp;
    if (!timestamp) return true;
    const last = this.last[line.stream];
    if (last !== undefined && timestamp <= last) {
      this.repeatsDropped++;
      return false;
    }
    this.last[line.stream] = timestamp;
    return true;
  }
}

/** The last timestamp shown of each output stream. */
export type LogCursorState = Partial<Record<LogStreamKind, string>>;
