/**
 * What every log stream shares: it rides the host's kept-open connection, emits lines and notices
 * ("── handdoc-fastapi stopped; waiting for it to start again ──"), has a status, and when disposed
 * ends whatever it runs on the host.
 */
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { LogCursorState, LogLine } from '../core/dockerLogParser';
import type { Color, HostProfile } from '../core/hostProfile';
import type { ContainerInfo } from '../core/hostState';
import { noticeLine, type LogSource } from '../core/logSources';
import { Emitter, type Disposable, type Event } from './emitter';
import type { ConnectionState, ExecStream, RemoteStat } from './hostConnection';

/** What a log stream needs of a connection (HostConnection has it all). */
export interface LogConnection {
  readonly profile: HostProfile;
  readonly state: ConnectionState;
  readonly onDidChangeState: Event<ConnectionState>;
  docker(): Dockerode;
  execStream(argv: string[], options?: { sudo?: boolean; signal?: AbortSignal }): Promise<ExecStream>;
  readFile(remotePath: string, options?: { sudo?: boolean }): Promise<Buffer>;
  stat(remotePath: string): Promise<RemoteStat | undefined>;
}

/**
 * A connected host as the streams see it (a HostWatcher): the connection, and the containers as the
 * watcher last read them. The watcher re-reads them on every Docker event, so its change event is
 * how a stream learns that a stopped container started again, without a second events stream.
 */
export interface LogHost {
  readonly connection: LogConnection;
  readonly snapshot: { readonly containers: readonly ContainerInfo[] } | undefined;
  readonly onDidChange: Event<unknown>;
}

export type LogStreamStatus =
  /** Opening the stream. */
  | 'starting'
  | 'following'
  /** The container is stopped or missing, or the file unreadable: picked up again when that changes. */
  | 'waiting'
  /** The connection dropped: resumes after the reconnect. */
  | 'disconnected'
  /** Cannot go on (e.g. sudo refused); Show Logs again to retry. */
  | 'failed'
  | 'stopped';

export type NoticeLevel = 'info' | 'warn' | 'error';

export type LogEvent = { kind: 'lines'; lines: LogLine[] } | { kind: 'notice'; text: string; level: NoticeLevel };

/** Where a stream got to, to continue in a new stream (after its connection was replaced). */
export interface LogResumeState {
  cursor?: LogCursorState;
  /** Docker `since` to use when there is no cursor yet. */
  since?: string;
  /** A followed file: the last lines shown. */
  seen?: string[];
  /** The live color being followed. */
  color?: Color;
}

export interface LogStreamOptions {
  /** Lines shown from before the start (`docker logs --tail`, `tail -n`). */
  tailLines: number;
  resume?: LogResumeState;
}

export abstract class LogStream implements Disposable {
  private readonly _onDidEmit = new Emitter<LogEvent>();
  readonly onDidEmit = this._onDidEmit.event;
  private readonly _onDidChangeStatus = new Emitter<LogStreamStatus>();
  readonly onDidChangeStatus = this._onDidChangeStatus.event;
  private _status: LogStreamStatus = 'starting';
  protected isDisposed = false;
  protected readonly subscriptions: Disposable[] = [];

  constructor(
    readonly source: LogSource,
    protected readonly host: LogHost,
  ) {}

  get status(): LogStreamStatus {
    return this._status;
  }

  protected get connection(): LogConnection {
    return this.host.connection;
  }

  protected get hostName(): string {
    return this.connection.profile.name;
  }

  protected get isConnected(): boolean {
    return this.connection.state.kind === 'connected';
  }

  abstract start(): void;

  /** Where it got to; a new stream given this continues without repeating lines. */
  abstract resumeState(): LogResumeState;

  /** Ends what runs on the host for this stream. */
  protected abstract stopRemote(): void;

  protected setStatus(status: LogStreamStatus): void {
    if (this._status === status || this._status === 'stopped') return;
    this._status = status;
    this._onDidChangeStatus.fire(status);
  }

  protected emitLines(lines: LogLine[]): void {
    if (lines.length > 0 && !this.isDisposed) this._onDidEmit.fire({ kind: 'lines', lines });
  }

  protected notice(text: string, level: NoticeLevel = 'info'): void {
    if (!this.isDisposed) this._onDidEmit.fire({ kind: 'notice', text: noticeLine(text), level });
  }

  /** Passes on another stream's events (the live color's current container). */
  protected forward(event: LogEvent): void {
    if (!this.isDisposed) this._onDidEmit.fire(event);
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    this.stopRemote();
    this.setStatus('stopped');
    this._onDidEmit.dispose();
    this._onDidChangeStatus.dispose();
  }
}

export function describeState(state: ConnectionState): string {
  switch (state.kind) {
    case 'reconnecting':
      return `lost (${state.lastError.message})`;
    case 'failed':
      return `failed (${state.error.message})`;
    default:
      return state.kind;
  }
}

/** Work on incoming log data per turn of the event loop before yielding to everything else. */
const sliceBudgetMs = 8;

/**
 * Reads a stream without holding the event loop: a stream that has piled up data hands it all over
 * in one synchronous loop, which in a flood blocked the extension host for hundreds of ms. After
 * `sliceBudgetMs` of work in one turn it pauses and goes on in the next, which also slows the sender
 * (SSH flow control) instead of buffering without bound.
 */
export function readInSlices(stream: Readable, onChunk: (chunk: Buffer) => void): void {
  let sliceStartedAt = -1;
  stream.on('data', (chunk: Buffer) => {
    if (sliceStartedAt < 0) {
      sliceStartedAt = performance.now();
      setImmediate(() => (sliceStartedAt = -1));
    }
    onChunk(chunk);
    if (performance.now() - sliceStartedAt > sliceBudgetMs && !stream.isPaused()) {
      stream.pause();
      setImmediate(() => {
        sliceStartedAt = -1;
        if (!stream.destroyed) stream.resume();
      });
    }
  });
}
