/**
 * Follows whichever color Nginx sends a Blue-Green service's traffic to: the log of that color's
 * container, and at a switch a marker ("── switched to green (v2) ──") and the new color's lines
 * from the moment the switch file was rewritten.
 *
 * The switch is seen by reading the switch file every second over the connection's open SFTP
 * channel (~2 ms a read, no new channel), only while such a stream is open. The host watcher cannot
 * tell: it re-reads switch files only on a full refresh, and a switch (rewrite + `nginx -s reload`)
 * makes no Docker event; the only event comes seconds later when the old color is stopped, if at all.
 */
import type { Color, BlueGreenService } from '../core/hostProfile';
import { describeError } from '../core/logger';
import { containerVersion, switchedText, type LogSource } from '../core/logSources';
import { liveColorOf } from '../core/nginxSwitchFile';
import { ContainerLogStream } from './containerLogStream';
import type { Disposable } from './emitter';
import { toHostError } from './hostErrors';
import { LogStream, type LogHost, type LogResumeState } from './logStream';

export const switchPollMs = 1000;

export class LiveColorLogStream extends LogStream {
  private readonly service?: BlueGreenService;
  private readonly serviceName: string;
  private readonly tailLines: number;
  private color?: Color;
  private inner?: ContainerLogStream;
  private innerSubscriptions: Disposable[] = [];
  private pollTimer?: NodeJS.Timeout;
  private isPolling = false;
  private readProblem?: string;
  private resume?: LogResumeState;
  /** The followed container's place when the stream stopped. */
  private stoppedAt?: LogResumeState;

  constructor(source: Extract<LogSource, { kind: 'liveColor' }>, host: LogHost, options: { tailLines: number; resume?: LogResumeState }) {
    super(source, host);
    this.serviceName = source.service;
    const service = host.connection.profile.services.find((s) => s.name === source.service);
    if (service?.kind === 'blueGreen') this.service = service;
    this.tailLines = options.tailLines;
    if (options.resume) this.resume = options.resume;
  }

  /** The color being followed (undefined until the switch file was read). */
  get liveColor(): Color | undefined {
    return this.color;
  }

  start(): void {
    if (!this.service) {
      this.notice(`${this.hostName} has no Blue-Green service named ${this.serviceName}`, 'error');
      this.setStatus('failed');
      return;
    }
    this.subscriptions.push(
      this.connection.onDidChangeState((state) => {
        if (state.kind !== 'connected') {
          if (!this.inner) this.setStatus('disconnected');
          return;
        }
        // Read the switch file first: a switch made while disconnected starts the new color, not the old one.
        void this.poll().then(() => this.inner?.resume());
      }),
    );
    this.pollTimer = setInterval(() => void this.poll(), switchPollMs);
    if (!this.isConnected) {
      this.notice(`not connected to ${this.hostName}; the live color of ${this.serviceName} follows once connected`);
      this.setStatus('disconnected');
    }
    void this.poll();
  }

  resumeState(): LogResumeState {
    return { ...(this.inner?.resumeState() ?? this.stoppedAt ?? {}), ...(this.color ? { color: this.color } : {}) };
  }

  private async poll(): Promise<void> {
    const service = this.service;
    if (!service || this.isPolling || this.isDisposed || !this.isConnected) return;
    this.isPolling = true;
    try {
      const text = (await this.connection.readFile(service.switchFile, { sudo: this.connection.profile.nginx.useSudo })).toString('utf8');
      const live = liveColorOf(text, service);
      if ('error' in live) {
        this.reportProblem(live.error);
        return;
      }
      this.readProblem = undefined;
      if (live.color !== this.color && !this.isDisposed) await this.follow(live.color);
    } catch (error) {
      if (this.isConnected) this.reportProblem(`cannot read ${service.switchFile}: ${describeError(toHostError(error))}`);
    } finally {
      this.isPolling = false;
    }
  }

  private reportProblem(problem: string): void {
    if (this.readProblem === problem) return;
    this.readProblem = problem;
    this.notice(`${problem}${this.color ? `; still following ${this.color}` : ''}`, 'error');
    if (!this.inner) this.setStatus('waiting');
  }

  private async follow(color: Color): Promise<void> {
    const service = this.service;
    if (!service) return;
    const previous = this.color;
    const container = service.colors[color].container;
    const version = containerVersion(this.host.snapshot?.containers.find((c) => c.name === container));
    let resume: LogResumeState | undefined;
    if (previous) {
      // Lines of the new color from when the switch file was rewritten (the host's clock, as Docker's).
      const stat = await this.connection.stat(service.switchFile).catch(() => undefined);
      if (this.isDisposed || this.color !== previous) return;
      resume = stat ? { since: `${Math.floor(stat.mtimeMs / 1000)}.000000000` } : {};
      this.notice(switchedText(color, version));
    } else if (this.resume) {
      // A stream continued after its connection was replaced: same color → same place.
      resume = this.resume.color === color ? this.resume : undefined;
      if (!resume) this.notice(switchedText(color, version));
      else this.notice(`${service.name}: resuming the live color ${color}${version ? ` (${version})` : ''}`);
    } else {
      this.notice(`${service.name} on ${this.hostName}: following the live color, now ${color}${version ? ` (${version})` : ''} (${container})`);
    }
    this.resume = undefined;
    this.color = color;
    this.replaceInner(new ContainerLogStream({ kind: 'container', host: this.source.host, container }, this.host, {
      tailLines: this.tailLines,
      ...(resume ? { resume } : {}),
      resumesOnReconnect: false,
      startNotice: false,
    }));
  }

  private replaceInner(next: ContainerLogStream | undefined): void {
    for (const subscription of this.innerSubscriptions.splice(0)) subscription.dispose();
    this.inner?.dispose();
    this.inner = next;
    if (!next) return;
    this.innerSubscriptions.push(
      next.onDidEmit((event) => this.forward(event)),
      next.onDidChangeStatus((status) => {
        if (status !== 'stopped') this.setStatus(status);
      }),
    );
    next.start();
  }

  protected stopRemote(): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.stoppedAt = this.inner?.resumeState();
    this.replaceInner(undefined);
  }
}
