/**
 * What every operation of the deploy engine shares, whatever the strategy (Blue-Green in
 * deployEngine.ts, single container in singleDeploy.ts): steps with events and records, the lock and
 * its heartbeat, the journal, retries after a dropped connection, the readiness wait (Docker health
 * plus Switchyard's own probe) and the log excerpt shown when a container does not come up.
 */
import {
  defaultDeploySettings,
  type ContainerStatus,
  type DeployErrorCode,
  type DeployEvent,
  type DeployPorts,
  type DeploySettings,
  type ImageCheck,
  type JournalEntry,
  type LockRecord,
  type OperationKind,
  type OperationRequest,
  type OperationResult,
  type StepName,
  type StepOutcome,
  type StepRecord,
} from './deployTypes';
import { describeError } from './logger';

export interface RunOptions {
  /** Cancels the operation: before the point of no return everything is undone; after it, the operation stops where it is. */
  signal?: AbortSignal;
  onEvent?: (event: DeployEvent) => void;
  /** Ids of operations and lock tokens (tests pass a counter); default `crypto.randomUUID`. */
  newId?: () => string;
}

/** Where the readiness wait probes: a container and its health path on the host's loopback. */
export interface ProbeTarget {
  container: string;
  port: number;
  path: string;
}

export class StepFailure extends Error {
  constructor(
    readonly code: DeployErrorCode,
    message: string,
    /** The container's last log lines: shown to the user, kept out of the journal. */
    readonly logs?: string,
  ) {
    super(message);
  }
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Ports report a dropped SSH connection as an error with code `connectionLost` (HostError does). */
export function isConnectionLost(error: unknown): boolean {
  return errorCode(error) === 'connectionLost';
}

export function isCancellation(error: unknown): boolean {
  return errorCode(error) === 'cancelled' || (error as { name?: unknown } | null)?.name === 'AbortError';
}

export const stepErrorCodes: Record<StepName, DeployErrorCode> = {
  preflight: 'preflight',
  pull: 'pullFailed',
  startIdle: 'startFailed',
  waitReady: 'notReady',
  switch: 'switchFailed',
  verify: 'verifyFailed',
  drain: 'internal',
  retire: 'internal',
  journal: 'internal',
  recreate: 'startFailed',
};

/** The pause before a probe that confirms a first success. */
export const confirmProbeMs = 50;

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

export function mib(kb: number): string {
  return `${Math.round(kb / 1024)} MiB`;
}

/** The line of nginx's output that says what is wrong, without its timestamp and pid (`[emerg] unknown directive ...`). */
export function firstErrorLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim().replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: /, '$1 ')).filter(Boolean);
  return lines.find((line) => /\[(emerg|alert|crit|error)\]|error|failed/i.test(line)) ?? lines[0] ?? 'no output';
}

/** The start of a log (where start-up errors are) and its end (the latest), with what was left out counted. */
export function excerptLog(text: string, headLines: number, tailLines: number): { text: string; total: number } {
  const lines = text.replace(/\n$/, '').split('\n');
  if (text.trim() === '') return { text: '', total: 0 };
  if (lines.length <= headLines + tailLines) return { text: lines.join('\n'), total: lines.length };
  const skipped = lines.length - headLines - tailLines;
  return { text: [...lines.slice(0, headLines), `… ${skipped} lines left out …`, ...lines.slice(-tailLines)].join('\n'), total: lines.length };
}

export function lastHealthCheck(status: ContainerStatus): string {
  const last = status.healthLog[status.healthLog.length - 1];
  if (!last) return '';
  const output = last.output.trim().replace(/\s+/g, ' ').slice(0, 300);
  return `; Docker's last health check exited ${last.exitCode}${output ? `: "${output}"` : ''}`;
}

export function settingsProblem(settings: DeploySettings): string | undefined {
  const nonNegative: Array<keyof DeploySettings> = ['drainMs', 'readyTimeoutMs', 'switchReadyTimeoutMs', 'startPeriodGraceMs', 'verifyTimeoutMs', 'stopTimeoutS', 'minFreeDiskKb', 'keepWarmMinAvailableKb', 'keepWarmMinutes', 'secondColorFallbackKb'];
  for (const key of nonNegative) {
    const value = settings[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return `Setting ${key} must be a number ≥ 0, got ${JSON.stringify(value)}.`;
  }
  const positive: Array<keyof DeploySettings> = ['probeIntervalMs', 'probeTimeoutMs', 'probeSuccesses', 'verifySuccesses', 'logTailLines'];
  for (const key of positive) {
    const value = settings[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return `Setting ${key} must be a number > 0, got ${JSON.stringify(value)}.`;
  }
  if (!['stop', 'keep', 'auto'].includes(settings.oldColor)) return `Setting oldColor must be "stop", "keep" or "auto", got ${JSON.stringify(settings.oldColor)}.`;
  return undefined;
}

/** The shared machinery of one operation; a strategy adds its steps and its `finish` (undo, result). */
export abstract class OperationCore {
  readonly id: string;
  protected readonly settings: DeploySettings;
  protected readonly steps: StepRecord[] = [];
  protected readonly notes: string[] = [];
  protected readonly startedMs: number;
  protected readonly signal: AbortSignal | undefined;
  protected lock?: LockRecord;
  protected isLockHeld = false;
  protected isJournalStarted = false;
  /** When the new container first answered its health path (set by `waitReady`). */
  protected readyMs?: number;
  protected tag?: string;

  constructor(
    protected readonly ports: DeployPorts,
    protected readonly serviceName: string,
    readonly kind: OperationKind,
    protected readonly request: OperationRequest,
    protected readonly options: RunOptions,
  ) {
    this.id = this.newId();
    this.settings = { ...defaultDeploySettings, ...request.settings };
    this.startedMs = ports.clock.now();
    this.signal = options.signal;
  }

  /** Undoes what the phase requires, writes the journal's `finished` line, releases the lock, builds the result. */
  protected abstract finish(failure: StepFailure | undefined): Promise<OperationResult>;

  protected newId(): string {
    return this.options.newId ? this.options.newId() : globalThis.crypto.randomUUID();
  }

  protected emit(event: DeployEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // a listener's bug must not break a deploy half-way
    }
  }

  protected progress(step: StepName, message: string): void {
    this.emit({ kind: 'progress', step, message });
  }

  protected get hostName(): string {
    return this.ports.hostName;
  }

  // -------------------------------------------------------------------------------------------
  // steps

  protected record(name: StepName, outcome: StepOutcome, startedMs: number, detail?: string): void {
    const durationMs = Math.max(0, this.ports.clock.now() - startedMs);
    this.steps.push({ name, outcome, durationMs, ...(detail ? { detail } : {}) });
    this.emit({ kind: 'stepFinished', step: name, outcome, durationMs, ...(detail ? { detail } : {}) });
  }

  protected skip(name: StepName, detail: string): void {
    this.record(name, 'skipped', this.ports.clock.now(), detail);
  }

  protected toFailure(step: StepName, error: unknown): StepFailure {
    if (error instanceof StepFailure) return error;
    // The switch and recreate steps run without the signal: their errors are real even when a cancel arrived meanwhile.
    if (isCancellation(error) || (this.signal?.aborted && step !== 'switch' && step !== 'recreate')) return new StepFailure('cancelled', 'Cancelled.');
    if (isConnectionLost(error)) return new StepFailure('connectionLost', `The connection to ${this.hostName} was lost during ${step}: ${describeError(error)}`);
    return new StepFailure(stepErrorCodes[step], describeError(error));
  }

  /** Runs one step: refuses to start when cancelled, refreshes the lock first (unless the step does it itself), records and emits. */
  protected async step<T>(name: StepName, work: (scope: { detail?: string }) => Promise<T>, options: { ownHeartbeat?: boolean } = {}): Promise<T> {
    if (this.signal?.aborted) throw new StepFailure('cancelled', 'Cancelled.');
    const startedMs = this.ports.clock.now();
    this.emit({ kind: 'stepStarted', step: name, atMs: startedMs });
    const scope: { detail?: string } = {};
    try {
      if (this.isLockHeld && !options.ownHeartbeat) await this.heartbeat(name);
      const value = await work(scope);
      this.record(name, 'ok', startedMs, scope.detail);
      return value;
    } catch (error) {
      const failure = this.toFailure(name, error);
      this.record(name, failure.code === 'cancelled' ? 'cancelled' : 'failed', startedMs, failure.message);
      throw failure;
    }
  }

  /** A port call that is safe to repeat: one retry when the connection dropped (HostConnection reconnects by itself). */
  protected async retrying<T>(step: StepName, what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!isConnectionLost(error)) throw error;
      this.progress(step, `connection lost during ${what}; retrying once after reconnecting`);
      return work();
    }
  }

  protected async heartbeat(step: StepName): Promise<void> {
    if (!this.lock) return;
    this.lock = { ...this.lock, step, heartbeatAt: new Date(this.ports.clock.now()).toISOString() };
    const record = this.lock;
    const stillOurs = await this.retrying(step, 'the lock heartbeat', () => this.ports.lock.refresh(record));
    if (!stillOurs) {
      this.isLockHeld = false;
      throw new StepFailure('lockLost', `The deploy lock on ${this.hostName} was broken by someone else while this ${this.kind} ran; stopping at ${step}.`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // preflight parts

  protected async acquireLock(): Promise<void> {
    const nowIso = new Date(this.ports.clock.now()).toISOString();
    const record: LockRecord = {
      token: this.newId(),
      holder: this.request.who,
      host: this.hostName,
      operation: this.kind,
      service: this.serviceName,
      startedAt: nowIso,
      step: 'preflight',
      heartbeatAt: nowIso,
    };
    const attempt = async (): Promise<void> => {
      let result;
      try {
        result = await this.ports.lock.acquire(record);
      } catch (error) {
        if (!isConnectionLost(error)) throw error;
        // The first attempt may have created the lock before the connection dropped: then it is ours.
        result = await this.ports.lock.acquire(record);
        if (!result.acquired && result.current.record.token === record.token) result = { acquired: true as const };
      }
      if (result.acquired) return;
      const { record: held, isStale, staleReason } = result.current;
      if (isStale && this.request.breakStaleLock) {
        this.notes.push(`Broke a stale lock of ${held.holder} (${held.operation} of ${held.service} since ${held.startedAt}, last step ${held.step ?? 'unknown'}): ${staleReason ?? 'its holder is gone'}.`);
        if (!(await this.ports.lock.break(held.token))) throw new StepFailure('locked', `The lock on ${this.hostName} changed while it was being broken; try again.`);
        const again = await this.ports.lock.acquire(record);
        if (again.acquired) return;
        throw new StepFailure('locked', `${again.current.record.holder} took the lock on ${this.hostName} first.`);
      }
      const since = `${held.operation} of ${held.service} by ${held.holder}, started ${held.startedAt}${held.step ? `, at step ${held.step}` : ''}`;
      throw new StepFailure(
        'locked',
        isStale
          ? `${this.hostName} is locked by a ${since}, but that holder is gone (${staleReason ?? 'no heartbeat'}). Look at the host, then break the stale lock (CLI: switchyard lock --break).`
          : `Another operation is running on ${this.hostName}: ${since}. Wait for it to finish.`,
      );
    };
    await attempt();
    this.lock = record;
    this.isLockHeld = true;
  }

  protected async startJournal(): Promise<void> {
    const entry: JournalEntry = {
      id: this.id,
      phase: 'started',
      at: new Date(this.startedMs).toISOString(),
      kind: this.kind,
      service: this.serviceName,
      host: this.hostName,
      who: this.request.who,
      ...(this.tag ? { tag: this.tag } : {}),
    };
    await this.retrying('preflight', 'writing the journal', () => this.ports.journal.append(entry));
    this.isJournalStarted = true;
  }

  protected inspect(step: StepName, container: string): Promise<ContainerStatus | undefined> {
    return this.retrying(step, `docker inspect ${container}`, () => this.ports.docker.inspect(container));
  }

  /**
   * Ready = the container runs, Docker does not call it unhealthy, and Switchyard's own probe of the
   * health path answered `probeSuccesses` times in a row. Docker's verdict is only a veto: the switch
   * does not wait for its next healthcheck interval.
   */
  protected async waitReady(probe: ProbeTarget, initial: ContainerStatus, timeoutMs: number, respectStartPeriod: boolean): Promise<void> {
    await this.step('waitReady', async (scope) => {
      const { clock, http } = this.ports;
      const { container, port, path } = probe;
      const startedMs = clock.now();
      const startPeriodMs = respectStartPeriod ? initial.healthcheck?.startPeriodMs ?? 0 : 0;
      const budgetMs = Math.max(timeoutMs, startPeriodMs > 0 ? startPeriodMs + this.settings.startPeriodGraceMs : 0);
      const deadlineMs = startedMs + budgetMs;
      let successes = 0;
      let firstSuccessMs = 0;
      let lastProbe = 'no answer yet';
      let lastReported = '';
      let lastHeartbeatMs = startedMs;
      let status: ContainerStatus = initial;
      const fail = async (why: string): Promise<never> => {
        throw new StepFailure('notReady', why, await this.logExcerpt(container));
      };
      for (;;) {
        if (this.signal?.aborted) throw new StepFailure('cancelled', 'Cancelled.');
        const [inspected, probe] = await Promise.all([
          this.ports.docker.inspect(container).then(
            (value) => ({ ok: true as const, value }),
            (error: unknown) => ({ ok: false as const, error }),
          ),
          http.get(port, path, this.settings.probeTimeoutMs, this.signal).then(
            (value) => ({ ok: true as const, value }),
            (error: unknown) => ({ ok: false as const, error }),
          ),
        ]);
        const nowMs = clock.now();
        if (!inspected.ok) {
          if (isCancellation(inspected.error)) throw new StepFailure('cancelled', 'Cancelled.');
          // A dropped connection is retried until the deadline; anything else is an answer.
          if (!isConnectionLost(inspected.error)) throw inspected.error;
          lastProbe = `connection lost (${describeError(inspected.error)})`;
        } else {
          const current = inspected.value;
          const containerStartMs = Date.parse(initial.startedAt);
          const waited = seconds(nowMs - (Number.isFinite(containerStartMs) && containerStartMs > 0 && containerStartMs <= nowMs ? containerStartMs : startedMs));
          if (!current) await fail(`${container} disappeared while Switchyard waited for it (after ${waited}).`);
          else {
            status = current;
            if (current.id !== initial.id) await fail(`${container} was replaced by another container while Switchyard waited for it.`);
            if (current.state === 'exited' || current.state === 'dead') await fail(`${container} exited${current.exitCode !== undefined ? ` with code ${current.exitCode}` : ''} ${waited} after it started.`);
            if (current.state === 'restarting' || current.restartCount > initial.restartCount) {
              await fail(`${container} crashed and is being restarted by Docker (restart count ${current.restartCount}) ${waited} after it started.`);
            }
            if (current.health === 'unhealthy') await fail(`Docker reports ${container} unhealthy after ${waited}${lastHealthCheck(current)}.`);
          }
        }
        if (probe.ok && probe.value.status >= 200 && probe.value.status < 400) {
          if (successes === 0) firstSuccessMs = nowMs;
          successes++;
          lastProbe = `HTTP ${probe.value.status}`;
        } else {
          if (!probe.ok && isCancellation(probe.error)) throw new StepFailure('cancelled', 'Cancelled.');
          successes = 0;
          lastProbe = probe.ok ? `HTTP ${probe.value.status}${probe.value.body.trim() ? ` ${probe.value.body.trim().slice(0, 120)}` : ''}` : describeError(probe.error);
        }
        if (successes >= this.settings.probeSuccesses) {
          this.readyMs = firstSuccessMs;
          scope.detail = `${container} answered ${path} after ${seconds(firstSuccessMs - startedMs)} (Docker health: ${status.health})`;
          return;
        }
        const summary = `Docker health: ${status.health}; probe ${path}: ${lastProbe}`;
        if (summary !== lastReported) {
          lastReported = summary;
          this.progress('waitReady', summary);
        }
        if (nowMs >= deadlineMs) {
          const startNote = startPeriodMs > 0 ? ` (its start_period is ${seconds(startPeriodMs)})` : '';
          await fail(
            `${container} did not answer http://127.0.0.1:${port}${path} with a success within ${seconds(budgetMs)}${startNote}. Last probe: ${lastProbe}. Docker health: ${status.health}${lastHealthCheck(status)}.`,
          );
        }
        if (nowMs - lastHeartbeatMs >= 15_000) {
          lastHeartbeatMs = nowMs;
          await this.heartbeat('waitReady');
        }
        // After a first success the confirming probe follows at once: it is the only wait before the switch.
        await clock.sleep(successes > 0 ? Math.min(confirmProbeMs, this.settings.probeIntervalMs) : this.settings.probeIntervalMs, this.signal);
      }
    });
  }

  /**
   * The new container's log: its first lines (start-up errors live there, before the probes' request
   * lines pile up) and its last ones; `logTailLines` in all.
   */
  protected async logExcerpt(container: string): Promise<string> {
    try {
      const all = await this.ports.docker.logs(container, 2000);
      const head = Math.min(10, Math.floor(this.settings.logTailLines / 3));
      const excerpt = excerptLog(all, head, this.settings.logTailLines - head);
      return excerpt.total === 0 ? `${container} wrote no log lines.` : `Log of ${container} (${excerpt.total} lines${excerpt.total > this.settings.logTailLines ? `, first ${head} and last ${this.settings.logTailLines - head}` : ''}):\n${excerpt.text}`;
    } catch (error) {
      return `(could not read the log of ${container}: ${describeError(error)})`;
    }
  }

  /**
   * Asks whether the image can be had (registry or host) without pulling it; refuses when it cannot.
   * `skipPull`: the registry could not be asked but the host has it.
   */
  protected async checkImageAvailable(fullImage: string, what: string): Promise<{ skipPull: boolean; isLocal: boolean }> {
    const check: ImageCheck = await this.retrying('preflight', `checking ${fullImage}`, () => this.ports.docker.checkImage(fullImage, this.signal));
    if (check.kind === 'missing') throw new StepFailure('preflight', `The image ${fullImage} does not exist: ${check.message}. ${what}`);
    if (check.kind === 'unreachable') throw new StepFailure('preflight', `The image ${fullImage} cannot be pulled: ${check.message}. ${what}`);
    if (check.kind === 'localOnly') {
      this.notes.push(`The registry could not be asked about ${fullImage} (${check.registryProblem}); the host already has it, so that copy is used.`);
      return { skipPull: true, isLocal: true };
    }
    if (check.kind === 'unverified') this.notes.push(`Could not ask the registry whether ${fullImage} exists (${check.reason}); the pull will tell.`);
    return { skipPull: false, isLocal: check.kind === 'available' && check.isLocal };
  }

  /** Pulls the image (progress lines become events); skipped when the host's copy is to be used. */
  protected async pullImage(image: string, skipPull: boolean): Promise<void> {
    if (skipPull) {
      this.skip('pull', `using the copy of ${image} already on the host`);
      return;
    }
    await this.step('pull', async (scope) => {
      let lines = 0;
      await this.retrying('pull', `pulling ${image}`, () =>
        this.ports.docker.pull(
          image,
          (line) => {
            lines++;
            this.progress('pull', line);
          },
          this.signal,
        ),
      );
      scope.detail = `pulled ${image}${lines ? '' : ' (no progress reported)'}`;
    });
  }

  /**
   * The journal step: writes the `finished` line (when a `started` one was written) and releases the
   * lock; a failure here becomes a note, never a different outcome.
   */
  protected async closeJournal(entry: Omit<JournalEntry, 'id' | 'phase' | 'at' | 'kind' | 'service' | 'host' | 'who' | 'steps' | 'totalMs'>, totalMs: number): Promise<void> {
    if (!this.isJournalStarted && !this.isLockHeld) return;
    const journalStarted = this.ports.clock.now();
    this.emit({ kind: 'stepStarted', step: 'journal', atMs: journalStarted });
    const details: string[] = [];
    if (this.isJournalStarted) {
      const full: JournalEntry = {
        id: this.id,
        phase: 'finished',
        at: new Date(this.ports.clock.now()).toISOString(),
        kind: this.kind,
        service: this.serviceName,
        host: this.hostName,
        who: this.request.who,
        ...(this.tag ? { tag: this.tag } : {}),
        ...entry,
        steps: [...this.steps],
        totalMs,
      };
      try {
        await this.retrying('journal', 'writing the journal', () => this.ports.journal.append(full));
        details.push('journal written');
      } catch (error) {
        this.notes.push(`The journal entry could not be written: ${describeError(error)}.`);
      }
    }
    if (this.isLockHeld && this.lock) {
      const token = this.lock.token;
      try {
        await this.retrying('journal', 'releasing the lock', () => this.ports.lock.release(token));
        this.isLockHeld = false;
        details.push('lock released');
      } catch (error) {
        this.notes.push(`The deploy lock could not be released (${describeError(error)}); it counts as stale once this connection is gone.`);
      }
    }
    this.record('journal', details.length ? 'ok' : 'failed', journalStarted, details.join('; ') || 'nothing could be written');
  }

  /** The step that failed or was cancelled last, for the result and the journal. */
  protected failedStep(): StepName | undefined {
    return [...this.steps].reverse().find((s) => s.outcome === 'failed' || s.outcome === 'cancelled')?.name;
  }

  /** Runs one of the operations and always finishes: undo by phase, journal, lock. */
  async run(body: () => Promise<void>): Promise<OperationResult> {
    let failure: StepFailure | undefined;
    try {
      const problem = settingsProblem(this.settings);
      if (problem) throw new StepFailure('badInput', problem);
      await body();
    } catch (error) {
      failure = error instanceof StepFailure ? error : new StepFailure('internal', describeError(error));
    }
    return this.finish(failure);
  }
}
