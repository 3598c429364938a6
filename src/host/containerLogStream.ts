/**
 * Follows one container's log through the Docker API on the kept-open connection
 * (`GET /containers/{name}/logs?follow=1&timestamps=1`), and keeps following it across what ends a
 * Docker log stream: the container stopping, being removed and recreated, the connection dropping.
 * Every re-attach asks Docker for the lines `since` the last one shown, and the cursor drops the
 * ones Docker repeats (its `since` is inclusive), so nothing is shown twice or lost.
 */
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { DockerLogParser, LogCursor, normalizeTimestamp, sinceParam, type LogLine } from '../core/dockerLogParser';
import { describeError } from '../core/logger';
import type { LogSource } from '../core/logSources';
import { followDocker } from './followDocker';
import { HostError, toHostError } from './hostErrors';
import { LogStream, readInSlices, type LogHost, type LogResumeState } from './logStream';

export interface ContainerLogStreamOptions {
  tailLines: number;
  resume?: LogResumeState;
  /** False when an owner (the live-color stream) decides when to resume after a reconnect. */
  resumesOnReconnect?: boolean;
  /** The first notice; false for none (the owner writes its own). */
  startNotice?: string | false;
}

type WaitReason = 'missing' | 'stopped' | 'error';

/** A run of a container: a restart keeps the id and changes StartedAt, a recreate changes the id. */
interface Run {
  id: string;
  startedAt: string;
}

/** The same run ending its stream more often than this (dockerd trouble, not a stop) waits before re-attaching. */
const sameRunRetryMs = 2000;

function statusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export class ContainerLogStream extends LogStream {
  readonly container: string;
  private readonly cursor: LogCursor;
  private readonly tailLines: number;
  private readonly resumesOnReconnect: boolean;
  private readonly startNotice?: string | false;
  /** Docker `since` when there is no cursor yet (the live color's switch time, or the last run's start). */
  private since?: string;
  private response?: Readable;
  private controller?: AbortController;
  private run?: Run;
  private waitReason?: WaitReason;
  private isAttaching = false;
  private isAttachWanted = false;
  private hasAttached = false;
  private retryTimer?: NodeJS.Timeout;
  private followClient?: Dockerode;

  constructor(source: Extract<LogSource, { kind: 'container' }>, host: LogHost, options: ContainerLogStreamOptions) {
    super(source, host);
    this.container = source.container;
    this.tailLines = Math.max(0, Math.floor(options.tailLines));
    this.cursor = new LogCursor(options.resume?.cursor);
    if (options.resume?.since) this.since = options.resume.since;
    this.resumesOnReconnect = options.resumesOnReconnect ?? true;
    if (options.startNotice !== undefined) this.startNotice = options.startNotice;
  }

  start(): void {
    this.subscriptions.push(
      this.connection.onDidChangeState((state) => {
        if (state.kind !== 'connected') this.onDisconnected();
        else if (this.resumesOnReconnect) this.resume();
      }),
      this.host.onDidChange(() => this.onContainersChanged()),
    );
    void this.attach();
  }

  /** Lines Docker sent again (after a re-attach, or its json-file follow repeating a block) and this stream dropped. */
  get repeatsDropped(): number {
    return this.cursor.repeatsDropped;
  }

  resumeState(): LogResumeState {
    const cursor = this.cursor.state;
    return { ...(cursor ? { cursor } : {}), ...(this.since ? { since: this.since } : {}) };
  }

  /** After a reconnect: attach again from where it stopped. */
  resume(): void {
    if (this.isDisposed || this.status !== 'disconnected' || !this.isConnected) return;
    void this.attach('reconnected');
  }

  private get docker(): Dockerode {
    return this.connection.docker();
  }

  private async attach(reason?: 'reconnected' | 'started'): Promise<void> {
    if (this.isDisposed) return;
    if (this.isAttaching) {
      this.isAttachWanted = true;
      return;
    }
    // A Docker request on a dropped connection would start a reconnect at once: wait for the connection's own.
    if (!this.isConnected) {
      this.onDisconnected();
      return;
    }
    this.isAttaching = true;
    try {
      await this.attachOnce(reason);
    } catch (error) {
      this.onAttachFailed(error);
    } finally {
      this.isAttaching = false;
    }
    if (this.isAttachWanted && !this.response && !this.isDisposed) {
      this.isAttachWanted = false;
      void this.attach(reason);
    }
  }

  private async attachOnce(reason: 'reconnected' | 'started' | undefined): Promise<void> {
    const container = this.docker.getContainer(this.container);
    let inspect: Dockerode.ContainerInspectInfo;
    try {
      inspect = await container.inspect();
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
      this.wait('missing', this.hasAttached ? `${this.container} was removed; waiting for a container with that name` : `no container named ${this.container} on ${this.hostName}; waiting for one to appear`);
      return;
    }
    if (this.isDisposed) return;
    const since = this.cursor.since ?? this.since;
    const controller = new AbortController();
    const options: Dockerode.ContainerLogsOptions & { follow: true } = {
      follow: true,
      stdout: true,
      stderr: true,
      timestamps: true,
      abortSignal: controller.signal,
      ...(since ? { since } : { tail: this.tailLines }),
    };
    // The follow gets a connection of its own: held for as long as it runs, it must not take one of the shared pool's.
    this.followClient ??= followDocker(this.docker);
    const stream = (await this.followClient.getContainer(this.container).logs(options)) as unknown as Readable;
    if (this.isDisposed) {
      controller.abort();
      stream.destroy();
      return;
    }
    const previous = this.run;
    this.run = { id: inspect.Id, startedAt: inspect.State.StartedAt };
    // With no line shown yet, a later re-attach must not fall back to "the last N lines": start at this run.
    const started = normalizeTimestamp(inspect.State.StartedAt);
    if (!this.since && started && !started.startsWith('0001')) this.since = sinceParam(started);
    this.waitReason = undefined;
    this.response = stream;
    this.controller = controller;
    if (!this.hasAttached) {
      if (this.startNotice !== false) this.notice(this.startNotice ?? (since ? `${this.container} on ${this.hostName}: resuming where it stopped` : `${this.container} on ${this.hostName}: last ${this.tailLines} lines, then following`));
    } else if (reason === 'reconnected') {
      this.notice(`reconnected: ${this.container} resumes where it stopped`);
    } else if (previous && previous.id !== inspect.Id) {
      this.notice(`${this.container} was recreated: following the new container`);
    } else if (previous && previous.startedAt !== inspect.State.StartedAt) {
      this.notice(`${this.container} started again: following it`);
    }
    this.hasAttached = true;
    this.setStatus('following');
    const parser = new DockerLogParser({ isTty: inspect.Config.Tty });
    readInSlices(stream, (chunk) => this.onLines(parser.feed(chunk)));
    const ended = (): void => {
      if (this.response !== stream) return;
      this.response = undefined;
      this.controller = undefined;
      this.onLines(parser.end());
      void this.onStreamEnded();
    };
    stream.on('end', ended);
    stream.on('close', ended);
    stream.on('error', ended);
  }

  private onLines(lines: LogLine[]): void {
    if (lines.length === 0) return;
    const shown = lines.filter((line) => this.cursor.accept(line));
    this.emitLines(shown);
  }

  /** Docker ended the stream: the container stopped or was removed, the connection dropped, or dockerd went away. */
  private async onStreamEnded(): Promise<void> {
    if (this.isDisposed) return;
    if (!this.isConnected) {
      this.onDisconnected();
      return;
    }
    let inspect: Dockerode.ContainerInspectInfo;
    try {
      inspect = await this.docker.getContainer(this.container).inspect();
    } catch (error) {
      if (statusCode(error) === 404) this.wait('missing', `${this.container} was removed; waiting for a container with that name`);
      else this.onAttachFailed(error);
      return;
    }
    if (this.isDisposed) return;
    const isSameRun = this.run?.id === inspect.Id && this.run?.startedAt === inspect.State.StartedAt;
    if (inspect.State.Running) {
      if (!isSameRun) {
        void this.attach('started');
        return;
      }
      // Still the same run, yet Docker ended the stream: try again shortly rather than in a tight loop.
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.attach(), sameRunRetryMs);
      return;
    }
    const exit = inspect.State.ExitCode !== undefined ? ` (exit code ${inspect.State.ExitCode})` : '';
    this.wait('stopped', `${this.container} stopped${exit}; waiting for it to start again`);
  }

  private wait(reason: WaitReason, message: string): void {
    if (this.waitReason !== reason || this.status !== 'waiting') this.notice(message, reason === 'error' ? 'error' : 'warn');
    this.waitReason = reason;
    this.setStatus('waiting');
  }

  private onAttachFailed(error: unknown): void {
    if (this.isDisposed) return;
    const hostError = toHostError(error);
    if (!this.isConnected || (hostError instanceof HostError && hostError.code === 'connectionLost')) {
      this.onDisconnected();
      return;
    }
    this.wait('error', `cannot follow ${this.container}: ${describeError(hostError)}; trying again when Docker reports a change`);
  }

  /** The watcher re-read the containers (after a Docker event): a stopped or missing container may be back. */
  private onContainersChanged(): void {
    if (this.isDisposed || this.status !== 'waiting' || this.response || this.isAttaching) return;
    const info = this.host.snapshot?.containers.find((c) => c.name === this.container);
    if (!info) return;
    if (this.waitReason === 'missing' || this.waitReason === 'error') {
      void this.attach('started');
      return;
    }
    const isNewRun = !this.run || info.id !== this.run.id || info.startedAt !== this.run.startedAt;
    if (info.state === 'running' && isNewRun) void this.attach('started');
  }

  private onDisconnected(): void {
    if (this.isDisposed) return;
    this.stopRemote();
    if (this.status === 'disconnected') return;
    if (this.hasAttached) this.notice(`connection to ${this.hostName} lost; ${this.container} resumes when it is back`, 'warn');
    else if (this.startNotice !== false) this.notice(`not connected to ${this.hostName}; ${this.container} follows once connected`);
    this.setStatus('disconnected');
  }

  protected stopRemote(): void {
    clearTimeout(this.retryTimer);
    const response = this.response;
    this.response = undefined;
    this.controller?.abort();
    this.controller = undefined;
    // Destroying the response closes its forwarded channel: sshd closes the socket to dockerd, which stops following.
    response?.destroy();
  }
}
