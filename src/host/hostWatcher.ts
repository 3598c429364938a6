/**
 * Keeps one host's picture current: connects, takes a snapshot, then follows Docker's event
 * stream on the same connection and re-reads only the containers when something happens
 * (debounced). Memory, load, the switch files and the deploy lock are re-read on a slow timer
 * (one probe command); nothing polls the containers.
 * With `retireWarm`, a minute timer stops old colors whose keep-warm time is up.
 */
import type { Readable } from 'node:stream';
import type { HostProfile } from '../core/hostProfile';
import { computeWarnings } from '../core/hostState';
import { describeError, type Logger } from '../core/logger';
import { retireExpiredWarmColors } from '../core/warmRetire';
import { HostDeployPorts } from './deployPorts';
import { Emitter, type Disposable } from './emitter';
import type { ConnectionState, HostConnection } from './hostConnection';
import { HostError, toHostError } from './hostErrors';
import { readContainers, readHostSnapshot, readPeriodic, SnapshotCache, type HostSnapshot } from './hostSnapshot';

export type WatchChange = { kind: 'connection' } | { kind: 'snapshot'; scope: 'all' | 'containers' | 'metrics' };

export interface HostWatcherOptions {
  /** Docker events arrive in bursts (a recreate is 4-6 events); one re-read per burst. */
  eventDebounceMs?: number;
  metricsIntervalMs?: number;
  /**
   * Stops old colors whose keep-warm time is up (src/core/warmRetire.ts), checked every `intervalMs`
   * (default 60 s) while connected and `isEnabled()` (a live setting).
   */
  retireWarm?: { who: string; isEnabled: () => boolean; intervalMs?: number };
}

export class HostWatcher implements Disposable {
  private readonly _onDidChange = new Emitter<WatchChange>();
  readonly onDidChange = this._onDidChange.event;
  private _snapshot?: HostSnapshot;
  private _isRefreshing = false;
  private dockerRootDir?: string;
  private readonly cache = new SnapshotCache();
  private events?: Readable;
  private eventTimer?: NodeJS.Timeout;
  private metricsTimer?: NodeJS.Timeout;
  private retireTimer?: NodeJS.Timeout;
  private isRetiring = false;
  private retirePorts?: HostDeployPorts;
  /** The journal's size and mtime at the last pass, and the earliest keep-warm end it found: nothing to read again before either changes. */
  private retireSeen?: { journal: string; nextDueMs: number };
  private readonly retireWarm: HostWatcherOptions['retireWarm'];
  private isDisposed = false;
  private readonly subscriptions: Disposable[] = [];
  private readonly eventDebounceMs: number;
  private readonly metricsIntervalMs: number;

  constructor(
    readonly connection: HostConnection,
    private readonly logger: Logger,
    options: HostWatcherOptions = {},
  ) {
    this.eventDebounceMs = options.eventDebounceMs ?? 250;
    this.metricsIntervalMs = options.metricsIntervalMs ?? 30_000;
    this.retireWarm = options.retireWarm;
    this.subscriptions.push(connection.onDidChangeState((state) => this.onConnectionState(state)));
  }

  get profile(): HostProfile {
    return this.connection.profile;
  }

  get connectionState(): ConnectionState {
    return this.connection.state;
  }

  /** The last snapshot; still kept (and shown as stale) while reconnecting. */
  get snapshot(): HostSnapshot | undefined {
    return this._snapshot;
  }

  get isRefreshing(): boolean {
    return this._isRefreshing;
  }

  /** Connects (if needed) and takes a full snapshot. Errors end up in `connectionState`, not thrown. */
  async start(signal?: AbortSignal): Promise<void> {
    try {
      await this.connection.connect(signal);
    } catch (error) {
      this.logger.warn(`${this.profile.name}: ${describeError(error)}`);
      return;
    }
    await this.refresh();
  }

  /** `force` (the user's Refresh) reads everything again, `nginx -t` included. */
  async refresh(options: { force?: boolean } = {}): Promise<void> {
    if (this.connection.state.kind !== 'connected' || this.isDisposed) return;
    if (options.force) this.cache.clear();
    this._isRefreshing = true;
    this._onDidChange.fire({ kind: 'snapshot', scope: 'all' });
    try {
      if (this.dockerRootDir === undefined) this.dockerRootDir = await this.readDockerRootDir();
      this._snapshot = await readHostSnapshot(this.connection, this.dockerRootDir, this.cache);
      for (const [part, error] of Object.entries(this._snapshot.problems)) this.logger.warn(`${this.profile.name}: ${part}: ${error.message}`);
      this.ensureEventStream();
      this.ensureMetricsTimer();
      this.ensureRetireTimer();
    } finally {
      this._isRefreshing = false;
      this._onDidChange.fire({ kind: 'snapshot', scope: 'all' });
    }
  }

  private async readDockerRootDir(): Promise<string | undefined> {
    try {
      return (await this.connection.docker().info()).DockerRootDir as string;
    } catch {
      return undefined; // Reported by the containers part of the snapshot.
    }
  }

  private onConnectionState(state: ConnectionState): void {
    if (state.kind !== 'connected') this.stopFollowing();
    this._onDidChange.fire({ kind: 'connection' });
    // After a reconnect the picture may be minutes old: read it all again by itself.
    if (state.kind === 'connected' && this._snapshot) void this.refresh({ force: true });
  }

  private ensureEventStream(): void {
    if (this.events || this._snapshot?.problems.docker) return;
    const since = Math.floor(Date.now() / 1000);
    this.connection
      .docker()
      .getEvents({ since, filters: JSON.stringify({ type: ['container'] }) })
      .then((stream) => {
        if (this.isDisposed || this.connection.state.kind !== 'connected') {
          (stream as Readable).destroy();
          return;
        }
        const events = stream as Readable;
        this.events = events;
        let buffered = '';
        events.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) if (line.trim()) this.onDockerEvent(line);
        });
        const ended = (): void => {
          if (this.events !== events) return;
          this.events = undefined;
          // The stream can end without the connection dropping (dockerd restart): follow again.
          if (!this.isDisposed && this.connection.state.kind === 'connected') setTimeout(() => this.ensureEventStream(), 1000).unref();
        };
        events.on('end', ended);
        events.on('close', ended);
        events.on('error', ended);
      })
      .catch((error: unknown) => this.logger.warn(`${this.profile.name}: cannot follow Docker events: ${toHostError(error).message}`));
  }

  private onDockerEvent(line: string): void {
    try {
      const event = JSON.parse(line) as { status?: string; Action?: string; Actor?: { Attributes?: { name?: string } } };
      const action = event.Action ?? event.status ?? '';
      // Every healthcheck probe is an exec_create/start/die; only health_status changes matter.
      if (action.startsWith('exec_')) return;
      this.logger.trace(`${this.profile.name}: docker event ${action} ${event.Actor?.Attributes?.name ?? ''}`);
    } catch {
      return;
    }
    clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(() => void this.refreshContainers(), this.eventDebounceMs);
  }

  private async refreshContainers(): Promise<void> {
    const snapshot = this._snapshot;
    if (!snapshot || this.connection.state.kind !== 'connected') return;
    try {
      const containers = await readContainers(this.connection, this.cache);
      this._snapshot = { ...snapshot, containers, takenAtMs: Date.now(), warnings: computeWarnings(this.profile, containers, snapshot.nginx, snapshot.metrics, snapshot.listening) };
      this._onDidChange.fire({ kind: 'snapshot', scope: 'containers' });
    } catch (error) {
      this.logger.warn(`${this.profile.name}: re-reading containers failed: ${toHostError(error).message}`);
    }
  }

  private ensureMetricsTimer(): void {
    if (this.metricsTimer) return;
    this.metricsTimer = setInterval(() => void this.refreshMetrics(), this.metricsIntervalMs);
    this.metricsTimer.unref();
  }

  private async refreshMetrics(): Promise<void> {
    const snapshot = this._snapshot;
    if (!snapshot || this.connection.state.kind !== 'connected') return;
    try {
      const { metrics, nginx, listening, deployLock } = await readPeriodic(this.connection, this.dockerRootDir, this.cache);
      // Only the host group redraws unless the switch files, nginx -t or the lock changed (a switch by another client).
      const isOtherChange = JSON.stringify([nginx, deployLock]) !== JSON.stringify([snapshot.nginx, snapshot.deployLock]);
      const next: HostSnapshot = { ...snapshot, nginx, warnings: computeWarnings(this.profile, snapshot.containers, nginx, metrics, listening) };
      if (metrics) next.metrics = metrics;
      if (listening) next.listening = listening;
      if (deployLock) next.deployLock = deployLock;
      else delete next.deployLock;
      this._snapshot = next;
      this._onDidChange.fire({ kind: 'snapshot', scope: isOtherChange ? 'all' : 'metrics' });
    } catch (error) {
      if (!(error instanceof HostError && error.code === 'connectionLost')) this.logger.debug(`${this.profile.name}: metrics: ${describeError(error)}`);
    }
  }

  private ensureRetireTimer(): void {
    if (this.retireTimer || !this.retireWarm) return;
    this.retireTimer = setInterval(() => void this.retireDueWarmColors(), this.retireWarm.intervalMs ?? 60_000);
    this.retireTimer.unref();
    void this.retireDueWarmColors();
  }

  /** One pass of the keep-warm check: a journal read on the open shell; a stop only when one is due. */
  private async retireDueWarmColors(): Promise<void> {
    const options = this.retireWarm;
    if (!options || this.isRetiring || this.isDisposed || this.connection.state.kind !== 'connected' || !options.isEnabled()) return;
    this.isRetiring = true;
    try {
      // A stat of the journal (SFTP, no process on the host) decides whether the journal must be read at all.
      this.retirePorts ??= new HostDeployPorts(this.connection);
      const journalPath = `${await this.retirePorts.stateDir()}/journal.jsonl`;
      const stat = await this.connection.stat(journalPath);
      const journal = stat ? `${stat.size}:${stat.mtimeMs}` : 'none';
      if (this.retireSeen && this.retireSeen.journal === journal && Date.now() < this.retireSeen.nextDueMs) return;
      const result = await retireExpiredWarmColors(this.retirePorts, this.profile, { who: options.who });
      // A color left running (lock held, ...) is looked at again at the next tick.
      const nextDueMs = result.left.length > 0 ? 0 : Math.min(...result.waiting.map((w) => Date.parse(w.warmUntil)));
      this.retireSeen = { journal, nextDueMs };
      for (const warm of result.stopped) this.logger.info(`${this.profile.name}: stopped ${warm.container}: ${warm.service}'s ${warm.color} was kept warm until ${warm.warmUntil}`);
      for (const warm of result.left) this.logger.info(`${this.profile.name}: ${warm.container} is past its keep-warm time (${warm.warmUntil}) but still runs: ${warm.reason}`);
    } catch (error) {
      if (!(error instanceof HostError && error.code === 'connectionLost')) this.logger.warn(`${this.profile.name}: keep-warm check: ${describeError(error)}`);
    } finally {
      this.isRetiring = false;
    }
  }

  private stopFollowing(): void {
    const events = this.events;
    this.events = undefined;
    events?.destroy();
    clearTimeout(this.eventTimer);
    clearInterval(this.metricsTimer);
    this.metricsTimer = undefined;
    clearInterval(this.retireTimer);
    this.retireTimer = undefined;
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    this.stopFollowing();
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose();
    this._onDidChange.dispose();
    this.connection.dispose();
  }
}
