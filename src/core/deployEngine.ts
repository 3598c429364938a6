/**
 * Blue-Green deploy, switch and rollback as a state machine over ports (DeployPorts): every decision
 * is here, every effect goes through a port, so each failure path runs in unit tests with fake ports.
 *
 *   phase:      checking ──► started ──────► switching ─────────► switched
 *   undo:       nothing      remove the new   put the switch file   none: traffic is on the new color,
 *                            container        back (+ reload)       `rollback` is the way back
 *
 * `checking` touches nothing on the host but the lock and the journal. The switch step ignores
 * cancellation, so a cancel lands either before it (traffic never moved) or after it.
 */
import { parseImageReference } from './composeFile';
import { checkImageTag, colorNamedIn, renderImageOverride, resolveComposeTarget } from './deployCompose';
import {
  defaultDeploySettings,
  type ColorImage,
  type ComposeTarget,
  type ContainerStatus,
  type DeployErrorCode,
  type DeployEvent,
  type DeployPorts,
  type DeployRequest,
  type DeploySettings,
  type HistoryItem,
  type JournalEntry,
  type JournalOutcome,
  type LockRecord,
  type OperationKind,
  type OperationRequest,
  type OperationResult,
  type StepName,
  type StepOutcome,
  type StepRecord,
  type TrafficState,
} from './deployTypes';
import { parseVerifyUrl, type BlueGreenService, type Color, type HostProfile } from './hostProfile';
import { describeError } from './logger';
import { parseSwitchFile, renderSwitch, resolveActiveColor, type ParsedSwitch } from './nginxSwitchFile';

export interface RunOptions {
  /** Cancels the operation: before the switch everything is undone; after it, the operation stops where it is. */
  signal?: AbortSignal;
  onEvent?: (event: DeployEvent) => void;
  /** Ids of operations and lock tokens (tests pass a counter); default `crypto.randomUUID`. */
  newId?: () => string;
}

type Phase = 'checking' | 'started' | 'switching' | 'switched';

class StepFailure extends Error {
  constructor(
    readonly code: DeployErrorCode,
    message: string,
    /** The container's last log lines: shown to the user, kept out of the journal. */
    readonly logs?: string,
  ) {
    super(message);
  }
}

const otherColor = (color: Color): Color => (color === 'blue' ? 'green' : 'blue');

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Ports report a dropped SSH connection as an error with code `connectionLost` (HostError does). */
function isConnectionLost(error: unknown): boolean {
  return errorCode(error) === 'connectionLost';
}

function isCancellation(error: unknown): boolean {
  return errorCode(error) === 'cancelled' || (error as { name?: unknown } | null)?.name === 'AbortError';
}

const stepErrorCodes: Record<StepName, DeployErrorCode> = {
  preflight: 'preflight',
  pull: 'pullFailed',
  startIdle: 'startFailed',
  waitReady: 'notReady',
  switch: 'switchFailed',
  verify: 'verifyFailed',
  drain: 'internal',
  retire: 'internal',
  journal: 'internal',
};

/** The pause before a probe that confirms a first success. */
const confirmProbeMs = 50;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

function mib(kb: number): string {
  return `${Math.round(kb / 1024)} MiB`;
}

/** The line of nginx's output that says what is wrong, without its timestamp and pid (`[emerg] unknown directive ...`). */
function firstErrorLine(output: string): string {
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

function lastHealthCheck(status: ContainerStatus): string {
  const last = status.healthLog[status.healthLog.length - 1];
  if (!last) return '';
  const output = last.output.trim().replace(/\s+/g, ' ').slice(0, 300);
  return `; Docker's last health check exited ${last.exitCode}${output ? `: "${output}"` : ''}`;
}

function settingsProblem(settings: DeploySettings): string | undefined {
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

/** What the deploy path needs to start a color: where its compose service is and which image to run. */
interface StartPlan {
  color: Color;
  image: string;
  target: ComposeTarget;
  overrideText: string;
  /** The container that was there before (its id), so a failure removes only what this run created. */
  previousId?: string;
  skipPull: boolean;
}

class Operation {
  readonly id: string;
  private readonly settings: DeploySettings;
  private readonly steps: StepRecord[] = [];
  private readonly notes: string[] = [];
  private readonly startedMs: number;
  private readonly signal: AbortSignal | undefined;
  private phase: Phase = 'checking';
  private lock?: LockRecord;
  private isLockHeld = false;
  private isJournalStarted = false;
  private live?: Color;
  private target?: Color;
  private switchText?: string;
  private parsedSwitch?: ParsedSwitch;
  private isReloadAttempted = false;
  private isVerified = false;
  private startPlan?: StartPlan;
  private readyMs?: number;
  private switchedMs?: number;
  private from?: ColorImage;
  private to?: ColorImage;
  private oldColorState?: 'running' | 'stopped';
  private warmUntil?: string;
  private tag?: string;

  constructor(
    private readonly ports: DeployPorts,
    private readonly service: BlueGreenService,
    readonly kind: OperationKind,
    private readonly request: OperationRequest,
    private readonly options: RunOptions,
  ) {
    this.id = this.newId();
    this.settings = { ...defaultDeploySettings, ...request.settings };
    this.startedMs = ports.clock.now();
    this.signal = options.signal;
  }

  private newId(): string {
    return this.options.newId ? this.options.newId() : globalThis.crypto.randomUUID();
  }

  private emit(event: DeployEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // a listener's bug must not break a deploy half-way
    }
  }

  private progress(step: StepName, message: string): void {
    this.emit({ kind: 'progress', step, message });
  }

  private get hostName(): string {
    return this.ports.hostName;
  }

  // -------------------------------------------------------------------------------------------
  // steps

  private record(name: StepName, outcome: StepOutcome, startedMs: number, detail?: string): void {
    const durationMs = Math.max(0, this.ports.clock.now() - startedMs);
    this.steps.push({ name, outcome, durationMs, ...(detail ? { detail } : {}) });
    this.emit({ kind: 'stepFinished', step: name, outcome, durationMs, ...(detail ? { detail } : {}) });
  }

  private skip(name: StepName, detail: string): void {
    this.record(name, 'skipped', this.ports.clock.now(), detail);
  }

  private toFailure(step: StepName, error: unknown): StepFailure {
    if (error instanceof StepFailure) return error;
    // The switch step runs without the signal: its errors are real even when a cancel arrived meanwhile.
    if (isCancellation(error) || (this.signal?.aborted && step !== 'switch')) return new StepFailure('cancelled', 'Cancelled.');
    if (isConnectionLost(error)) return new StepFailure('connectionLost', `The connection to ${this.hostName} was lost during ${step}: ${describeError(error)}`);
    return new StepFailure(stepErrorCodes[step], describeError(error));
  }

  /** Runs one step: refuses to start when cancelled, refreshes the lock first (unless the step does it itself), records and emits. */
  private async step<T>(name: StepName, work: (scope: { detail?: string }) => Promise<T>, options: { ownHeartbeat?: boolean } = {}): Promise<T> {
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
  private async retrying<T>(step: StepName, what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!isConnectionLost(error)) throw error;
      this.progress(step, `connection lost during ${what}; retrying once after reconnecting`);
      return work();
    }
  }

  private async heartbeat(step: StepName): Promise<void> {
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

  private async acquireLock(): Promise<void> {
    const nowIso = new Date(this.ports.clock.now()).toISOString();
    const record: LockRecord = {
      token: this.newId(),
      holder: this.request.who,
      host: this.hostName,
      operation: this.kind,
      service: this.service.name,
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

  private async startJournal(): Promise<void> {
    const entry: JournalEntry = {
      id: this.id,
      phase: 'started',
      at: new Date(this.startedMs).toISOString(),
      kind: this.kind,
      service: this.service.name,
      host: this.hostName,
      who: this.request.who,
      ...(this.tag ? { tag: this.tag } : {}),
    };
    await this.retrying('preflight', 'writing the journal', () => this.ports.journal.append(entry));
    this.isJournalStarted = true;
  }

  /** Reads the switch file and which color it points at; refuses (changing nothing) when it cannot tell. */
  private async readLiveColor(): Promise<Color> {
    const path = this.service.switchFile;
    const text = await this.retrying('preflight', 'reading the switch file', () => this.ports.files.read(path));
    if (text === undefined) throw new StepFailure('preflight', `The switch file ${path} does not exist on ${this.hostName}; Switchyard cannot tell which color is live, so it changes nothing.`);
    const parsed = parseSwitchFile(text, { ports: [this.service.colors.blue.port, this.service.colors.green.port] }, path);
    if (!parsed.ok) throw new StepFailure('preflight', `${parsed.error} Switchyard changes nothing until it can tell which color is live.`);
    const active = resolveActiveColor(parsed.parsed, this.service);
    if (!active.ok) throw new StepFailure('preflight', `${active.error} Switchyard changes nothing until it can tell which color is live.`);
    this.switchText = text;
    this.parsedSwitch = parsed.parsed;
    this.live = active.color;
    return active.color;
  }

  private async noteInterruptedOperation(): Promise<void> {
    let entries: JournalEntry[];
    try {
      entries = await this.ports.journal.read(50);
    } catch {
      return;
    }
    const previous = summarizeHistory(entries).filter((item) => item.id !== this.id);
    const last = previous[previous.length - 1];
    if (last?.outcome === 'interrupted') {
      this.notes.push(
        `The previous operation (${last.kind} of ${last.service} by ${last.who}, started ${last.startedAt}) never finished. The switch file says ${this.live} is live; this run goes by that.`,
      );
    }
  }

  private async checkNginx(): Promise<void> {
    const test = await this.retrying('preflight', 'nginx -t', () => this.ports.nginx.test());
    if (!test.ok) {
      throw new StepFailure(
        'preflight',
        `nginx -t fails before anything was changed: ${firstErrorLine(test.output)}. Fix the Nginx configuration first: no switch can be reloaded while it fails.`,
      );
    }
  }

  private inspect(step: StepName, container: string): Promise<ContainerStatus | undefined> {
    return this.retrying(step, `docker inspect ${container}`, () => this.ports.docker.inspect(container));
  }

  /** Compose target, image, image availability and room on the host for starting `color` with `image`. */
  private async planStart(color: Color, image: string | { tag: string }): Promise<StartPlan> {
    const profile = this.service.colors[color];
    const twinColor = otherColor(color);
    const twinProfile = this.service.colors[twinColor];
    const [own, twin] = await Promise.all([this.inspect('preflight', profile.container), this.inspect('preflight', twinProfile.container)]);
    const composeText = await this.retrying('preflight', `reading ${profile.composeFile}`, () => this.ports.files.read(profile.composeFile));
    if (composeText === undefined) throw new StepFailure('preflight', `The compose file of ${color}, ${profile.composeFile}, does not exist on ${this.hostName}.`);
    const resolved = resolveComposeTarget(profile, composeText, own, { profile: twinProfile, status: twin });
    if (!resolved.ok) throw new StepFailure('preflight', resolved.error);
    const fullImage = typeof image === 'string' ? image : `${resolved.imageName}:${image.tag}`;

    const check = await this.retrying('preflight', `checking ${fullImage}`, () => this.ports.docker.checkImage(fullImage, this.signal));
    let skipPull = false;
    let isLocal = false;
    if (check.kind === 'missing') throw new StepFailure('preflight', `The image ${fullImage} does not exist: ${check.message}. Nothing was started.`);
    if (check.kind === 'unreachable') throw new StepFailure('preflight', `The image ${fullImage} cannot be pulled: ${check.message}. Nothing was started.`);
    if (check.kind === 'localOnly') {
      skipPull = true;
      isLocal = true;
      this.notes.push(`The registry could not be asked about ${fullImage} (${check.registryProblem}); the host already has it, so that copy is used.`);
    }
    if (check.kind === 'available') isLocal = check.isLocal;
    if (check.kind === 'unverified') this.notes.push(`Could not ask the registry whether ${fullImage} exists (${check.reason}); the pull will tell.`);

    const isTwinLive = twin?.state === 'running';
    const isOwnRunning = own?.state === 'running';
    const resources = await this.retrying('preflight', 'reading memory and disk', () => this.ports.host.resources(isTwinLive ? { container: twinProfile.container } : {}));
    if (this.settings.checkMemory && !isOwnRunning && isTwinLive) {
      const neededKb = resources.containerMemoryKb ?? this.settings.secondColorFallbackKb;
      if (resources.memAvailableKb < neededKb) {
        const basis = resources.containerMemoryKb !== undefined ? `${twinColor} uses ${mib(resources.containerMemoryKb)}` : `an assumed ${mib(neededKb)}, as ${twinColor}'s use could not be measured`;
        throw new StepFailure(
          'preflight',
          `Only ${mib(resources.memAvailableKb)} of ${mib(resources.memTotalKb)} memory is available; starting ${color} next to ${twinColor} needs about ${mib(neededKb)} (${basis}). Free memory or add swap first. Nothing was started.`,
        );
      }
    }
    if (!isLocal && resources.dockerDiskAvailableKb !== undefined && resources.dockerDiskAvailableKb < this.settings.minFreeDiskKb) {
      throw new StepFailure('preflight', `Only ${mib(resources.dockerDiskAvailableKb)} is free where Docker keeps images (at least ${mib(this.settings.minFreeDiskKb)} needed to pull ${fullImage}). Nothing was started.`);
    }
    const overrideText = renderImageOverride(resolved.target, fullImage, resolved.composeVersion, `${this.kind} ${this.id}`);
    return { color, image: fullImage, target: resolved.target, overrideText, ...(own ? { previousId: own.id } : {}), skipPull };
  }

  // -------------------------------------------------------------------------------------------
  // the moving parts

  private async pull(plan: StartPlan): Promise<void> {
    if (plan.skipPull) {
      this.skip('pull', `using the copy of ${plan.image} already on the host`);
      return;
    }
    await this.step('pull', async (scope) => {
      let lines = 0;
      await this.retrying('pull', `pulling ${plan.image}`, () =>
        this.ports.docker.pull(
          plan.image,
          (line) => {
            lines++;
            this.progress('pull', line);
          },
          this.signal,
        ),
      );
      scope.detail = `pulled ${plan.image}${lines ? '' : ' (no progress reported)'}`;
    });
  }

  private async startIdle(plan: StartPlan): Promise<ContainerStatus> {
    return this.step('startIdle', async (scope) => {
      this.startPlan = plan;
      // From here a failure removes what this run created.
      this.phase = 'started';
      await this.retrying('startIdle', 'compose up', () => this.ports.compose.up(plan.target, plan.overrideText, this.signal));
      const container = this.service.colors[plan.color].container;
      const status = await this.inspect('startIdle', container);
      if (!status) throw new StepFailure('startFailed', `compose up reported success but there is no container ${container}: does ${plan.target.composeFile} set container_name: ${container}?`);
      scope.detail = `${container} created from ${plan.image}`;
      return status;
    });
  }

  /**
   * Ready = the container runs, Docker does not call it unhealthy, and Switchyard's own probe of the
   * health path answered `probeSuccesses` times in a row. Docker's verdict is only a veto: the switch
   * does not wait for its next healthcheck interval.
   */
  private async waitReady(color: Color, initial: ContainerStatus, timeoutMs: number, respectStartPeriod: boolean): Promise<void> {
    await this.step('waitReady', async (scope) => {
      const { clock, http } = this.ports;
      const { container, port } = this.service.colors[color];
      const path = this.service.healthPath;
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
  private async logExcerpt(container: string): Promise<string> {
    try {
      const all = await this.ports.docker.logs(container, 2000);
      const head = Math.min(10, Math.floor(this.settings.logTailLines / 3));
      const excerpt = excerptLog(all, head, this.settings.logTailLines - head);
      return excerpt.total === 0 ? `${container} wrote no log lines.` : `Log of ${container} (${excerpt.total} lines${excerpt.total > this.settings.logTailLines ? `, first ${head} and last ${this.settings.logTailLines - head}` : ''}):\n${excerpt.text}`;
    } catch (error) {
      return `(could not read the log of ${container}: ${describeError(error)})`;
    }
  }

  /** Rewrites the switch file to `to`, checks it with nginx -t and reloads. Cancellation is ignored here on purpose. */
  private async switchTo(to: Color, ready: ContainerStatus): Promise<void> {
    await this.step(
      'switch',
      async (scope) => {
        const { container, port } = this.service.colors[to];
        const path = this.service.switchFile;
        // Every round trip here is time between "ready" and "switched": the checks run side by side.
        const [current, now] = await Promise.all([
          this.inspect('switch', container),
          this.retrying('switch', 'reading the switch file', () => this.ports.files.read(path)),
          this.heartbeat('switch'),
        ]);
        if (!current || current.id !== ready.id || current.state !== 'running' || current.restartCount !== ready.restartCount || current.health === 'unhealthy') {
          const what = !current ? 'disappeared' : current.state !== 'running' ? `is ${current.state}${current.exitCode !== undefined ? ` (exit code ${current.exitCode})` : ''}` : current.health === 'unhealthy' ? 'became unhealthy' : 'crashed and was restarted';
          throw new StepFailure('notReady', `${container} was ready but ${what} before the switch; traffic was not moved.`, await this.logExcerpt(container));
        }
        const original = this.switchText as string;
        if (now !== original) {
          throw new StepFailure('switchFailed', `${path} was changed by someone else since the preflight; Switchyard did not switch. Read it again and retry.`);
        }
        const rendered = renderSwitch(original, this.parsedSwitch as ParsedSwitch, port);
        if (!rendered.ok) throw new StepFailure('switchFailed', rendered.error);
        this.phase = 'switching';
        const written = await this.ports.files.write(path, rendered.text, { backup: true });
        const test = await this.ports.nginx.test();
        if (!test.ok) throw new StepFailure('switchFailed', `nginx -t rejects the configuration with ${to} in ${path}: ${firstErrorLine(test.output)}.`);
        this.isReloadAttempted = true;
        const reload = await this.ports.nginx.reload();
        if (!reload.ok) throw new StepFailure('switchFailed', `nginx -s reload failed: ${firstErrorLine(reload.output)}.`);
        this.phase = 'switched';
        this.switchedMs = this.ports.clock.now();
        this.emit({ kind: 'switched', from: otherColor(to), to, atMs: this.switchedMs });
        scope.detail = `${path} → 127.0.0.1:${port} (${to}); nginx -t ok; reloaded${written.backupPath ? `; backup ${written.backupPath}` : ''}`;
      },
      { ownHeartbeat: true },
    );
  }

  /** Asks Nginx (verifyUrl) until the new color answers `verifySuccesses` times in a row; else traffic goes back. */
  private async verify(to: Color): Promise<void> {
    if (!this.service.verifyUrl) {
      this.skip('verify', `no verifyUrl for ${this.service.name}: Nginx was reloaded but not asked which color it serves`);
      return;
    }
    const verifyTarget = parseVerifyUrl(this.service.verifyUrl);
    if (!verifyTarget.ok) {
      this.skip('verify', `verifyUrl: ${verifyTarget.error}`);
      return;
    }
    await this.step('verify', async (scope) => {
      const { clock, http } = this.ports;
      const startedMs = clock.now();
      const deadlineMs = startedMs + this.settings.verifyTimeoutMs;
      let successes = 0;
      let isNamed = false;
      let last = 'no answer yet';
      for (;;) {
        if (this.signal?.aborted) throw new StepFailure('cancelled', 'Cancelled.');
        let answer: { status: number; body: string } | undefined;
        try {
          answer = await http.get(verifyTarget.port, verifyTarget.path, this.settings.probeTimeoutMs, this.signal);
        } catch (error) {
          if (isCancellation(error)) throw new StepFailure('cancelled', 'Cancelled.');
          last = describeError(error);
        }
        if (answer) {
          const named = colorNamedIn(answer.body);
          const isOk = answer.status >= 200 && answer.status < 400;
          if (isOk && (named === undefined || named === to)) {
            successes++;
            isNamed = named !== undefined;
          } else {
            successes = 0;
          }
          last = `HTTP ${answer.status}${named ? ` from ${named}` : ''}`;
        } else {
          successes = 0;
        }
        if (successes >= this.settings.verifySuccesses) {
          this.isVerified = true;
          scope.detail = isNamed ? `${this.service.verifyUrl} answered by ${to} ${successes} times in a row` : `${this.service.verifyUrl} answered ${last} ${successes} times (the answer does not name its color)`;
          return;
        }
        if (clock.now() >= deadlineMs) {
          // Back to the old color, while it still runs: the finish step restores the file and reloads.
          this.phase = 'switching';
          throw new StepFailure('verifyFailed', `Nginx did not serve ${to} at ${this.service.verifyUrl} within ${seconds(this.settings.verifyTimeoutMs)} after the reload (last answer: ${last}).`);
        }
        await clock.sleep(Math.min(100, this.settings.probeIntervalMs), this.signal);
      }
    });
  }

  /** Keeps the old color warm or drains and stops it, as the settings (and memory) say. */
  private async retire(old: Color): Promise<void> {
    const { container } = this.service.colors[old];
    let keep = this.settings.oldColor === 'keep';
    let why = 'the oldColor setting is "keep"';
    if (this.settings.oldColor === 'auto') {
      try {
        const resources = await this.ports.host.resources({});
        keep = resources.memAvailableKb >= this.settings.keepWarmMinAvailableKb;
        why = `${mib(resources.memAvailableKb)} memory is available (${keep ? 'at least' : 'less than'} ${mib(this.settings.keepWarmMinAvailableKb)})`;
      } catch (error) {
        if (isCancellation(error)) throw new StepFailure('cancelled', 'Cancelled.');
        keep = false;
        why = `memory could not be read (${describeError(error)})`;
      }
    }
    if (this.settings.oldColor === 'stop') {
      why = 'the oldColor setting is "stop"';
    }
    if (keep) {
      this.warmUntil = new Date(this.ports.clock.now() + this.settings.keepWarmMinutes * 60_000).toISOString();
      this.oldColorState = 'running';
      this.skip('drain', `${container} keeps running, so nothing needs to drain`);
      this.skip('retire', `${container} kept warm for an instant rollback (${why}), meant until ${this.warmUntil}`);
      this.notes.push(`${old} (${container}) is kept running for an instant rollback: ${why}.`);
      return;
    }
    await this.step('drain', async (scope) => {
      await this.ports.clock.sleep(this.settings.drainMs, this.signal);
      scope.detail = `waited ${seconds(this.settings.drainMs)} for requests in flight on ${old}`;
    });
    await this.step('retire', async (scope) => {
      try {
        await this.retrying('retire', `stopping ${container}`, () => this.ports.docker.stop(container, this.settings.stopTimeoutS));
        this.oldColorState = 'stopped';
        scope.detail = `stopped ${container} (${why})`;
      } catch (error) {
        if (isCancellation(error)) throw error;
        // The new color serves; a running old color is harmless.
        this.oldColorState = 'running';
        scope.detail = `could not stop ${container}: ${describeError(error)}`;
        this.notes.push(`${container} could not be stopped (${describeError(error)}); it still runs. Stop it by hand when you are sure.`);
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // undo and finish

  /** Puts the switch file back as it was (and reloads when a reload was attempted). Undefined when done. */
  private async restoreSwitch(): Promise<string | undefined> {
    const path = this.service.switchFile;
    const original = this.switchText as string;
    try {
      // A write that failed may have changed nothing (read-only file): then there is nothing to put back.
      const current = await this.retrying('switch', 'reading the switch file', () => this.ports.files.read(path)).catch(() => undefined);
      if (current !== original) await this.retrying('switch', 'restoring the switch file', () => this.ports.files.write(path, original, { backup: false }));
      if (!this.isReloadAttempted) return undefined;
      const test = await this.retrying('switch', 'nginx -t', () => this.ports.nginx.test());
      if (!test.ok) return `${path} is back as it was, but nginx -t now fails (${firstErrorLine(test.output)}), so Nginx was not reloaded and may still send traffic to ${this.target}`;
      const reload = await this.retrying('switch', 'nginx -s reload', () => this.ports.nginx.reload());
      if (!reload.ok) return `${path} is back as it was, but the reload failed (${firstErrorLine(reload.output)}), so Nginx may still send traffic to ${this.target}`;
      return undefined;
    } catch (error) {
      return `Switchyard could not put ${path} back (${describeError(error)}); it may point at ${this.target}`;
    }
  }

  /** Removes the container this run created for the new color; never the one that was there before. */
  private async removeNewColor(): Promise<void> {
    const plan = this.startPlan;
    if (!plan) return;
    const { container } = this.service.colors[plan.color];
    try {
      const status = await this.retrying('startIdle', `docker inspect ${container}`, () => this.ports.docker.inspect(container));
      if (!status) return;
      if (plan.previousId !== undefined && status.id === plan.previousId) {
        this.notes.push(`${container} was not replaced (it is the container that was there before), so it was left as it was.`);
        return;
      }
      await this.retrying('startIdle', `removing ${container}`, () => this.ports.docker.remove(container));
      this.notes.push(`Removed the new ${plan.color} container (${container}, ${plan.image}).`);
    } catch (error) {
      this.notes.push(`Could not remove the new ${plan.color} container ${container}: ${describeError(error)}. It takes no traffic; remove it by hand.`);
    }
  }

  async finish(failure: StepFailure | undefined): Promise<OperationResult> {
    let outcome: JournalOutcome = failure ? (failure.code === 'cancelled' ? 'cancelled' : 'failed') : 'succeeded';
    let message = failure?.message;
    let traffic: TrafficState;
    const live = this.live;
    const target = this.target;
    if (failure && this.phase === 'switching') {
      const problem = await this.restoreSwitch();
      if (problem) {
        outcome = 'uncertain';
        message = `${message} ${problem}. Check the host (switchyard status) before anything else.`;
      } else {
        message = `${message} The switch file is back as it was${this.isReloadAttempted ? ' and Nginx was reloaded' : ''}: traffic stays on ${live}.`;
        this.phase = 'started';
      }
    }
    if (failure && this.phase === 'started') await this.removeNewColor();
    if (outcome === 'uncertain') {
      traffic = { color: undefined, isCertain: false, why: 'the switch could not be undone for sure' };
    } else if (this.phase === 'switched') {
      traffic = this.isVerified ? { color: target, isCertain: true } : { color: target, isCertain: false, why: this.service.verifyUrl ? 'Nginx was reloaded but the new color was not confirmed' : 'no verifyUrl: Nginx was reloaded, not asked' };
      if (failure) {
        const old = live ? this.service.colors[live].container : 'the old color';
        message = `${message} Traffic is already on ${target}${this.oldColorState === 'stopped' ? '' : ` and ${old} still runs`}: to go back, run a rollback.`;
        if (this.oldColorState === undefined) this.oldColorState = 'running';
      }
    } else {
      traffic = live ? { color: live, isCertain: true } : { color: undefined, isCertain: false, why: 'the switch file was not read; Switchyard did not change it' };
    }

    const failedStep = failure ? [...this.steps].reverse().find((s) => s.outcome === 'failed' || s.outcome === 'cancelled')?.name : undefined;
    const totalMs = Math.max(0, this.ports.clock.now() - this.startedMs);
    const journalStarted = this.ports.clock.now();
    if (this.isJournalStarted || this.isLockHeld) {
      this.emit({ kind: 'stepStarted', step: 'journal', atMs: journalStarted });
      const details: string[] = [];
      if (this.isJournalStarted) {
        const entry: JournalEntry = {
          id: this.id,
          phase: 'finished',
          at: new Date(this.ports.clock.now()).toISOString(),
          kind: this.kind,
          service: this.service.name,
          host: this.hostName,
          who: this.request.who,
          ...(this.tag ? { tag: this.tag } : {}),
          ...(this.from ? { from: this.from } : {}),
          ...(this.to ? { to: this.to } : {}),
          outcome,
          ...(traffic.color ? { trafficOn: traffic.color } : {}),
          ...(message ? { error: message } : {}),
          ...(failedStep ? { failedStep } : {}),
          steps: [...this.steps],
          totalMs,
          ...(this.warmUntil ? { warmUntil: this.warmUntil } : {}),
        };
        try {
          await this.retrying('journal', 'writing the journal', () => this.ports.journal.append(entry));
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

    return {
      id: this.id,
      kind: this.kind,
      service: this.service.name,
      host: this.hostName,
      ok: !failure,
      outcome,
      ...(this.from ? { from: this.from } : {}),
      ...(this.to ? { to: this.to } : {}),
      traffic,
      steps: [...this.steps],
      totalMs,
      ...(this.readyMs !== undefined && this.switchedMs !== undefined ? { readyToSwitchedMs: this.switchedMs - this.readyMs } : {}),
      ...(failure ? { error: { code: failure.code, ...(failedStep ? { step: failedStep } : {}), message: message ?? failure.message, ...(failure.logs ? { logs: failure.logs } : {}) } } : {}),
      notes: [...this.notes],
      ...(this.oldColorState ? { oldColorState: this.oldColorState } : {}),
    };
  }

  // -------------------------------------------------------------------------------------------
  // the three operations

  private async preflightCommon(): Promise<Color> {
    await this.acquireLock();
    await this.startJournal();
    const live = await this.readLiveColor();
    await this.noteInterruptedOperation();
    await this.checkNginx();
    return live;
  }

  private describeColor(color: Color, status: ContainerStatus | undefined, image?: string): ColorImage {
    const container = this.service.colors[color].container;
    const shown = image ?? status?.image;
    return { color, container, ...(shown ? { image: shown } : {}) };
  }

  /** Deploy path: start `plan.color` with its image, wait, switch, verify, drain, retire. */
  private async deployInto(plan: StartPlan): Promise<void> {
    const live = this.live as Color;
    await this.pull(plan);
    const created = await this.startIdle(plan);
    await this.waitReady(plan.color, created, this.settings.readyTimeoutMs, true);
    await this.switchTo(plan.color, created);
    await this.verify(plan.color);
    await this.retire(live);
  }

  /** Switch path: the target color already runs; check it answers, switch, verify. The old color keeps running. */
  private async flipTo(color: Color, status: ContainerStatus): Promise<void> {
    await this.waitReady(color, status, this.settings.switchReadyTimeoutMs, false);
    await this.switchTo(color, status);
    await this.verify(color);
    this.oldColorState = 'running';
  }

  /** The target color's container, when it runs and Docker does not call it unhealthy; else why not. */
  private async runningTarget(color: Color): Promise<{ status?: ContainerStatus; problem?: string }> {
    const { container } = this.service.colors[color];
    const status = await this.inspect('preflight', container);
    if (!status) return { problem: `${container} does not exist` };
    if (status.state !== 'running') return { status, problem: `${container} is ${status.state}` };
    if (status.health === 'unhealthy') return { status, problem: `Docker reports ${container} unhealthy${lastHealthCheck(status)}` };
    return { status };
  }

  async deploy(tag: string): Promise<void> {
    this.tag = tag;
    const plan = await this.step('preflight', async (scope) => {
      const live = await this.preflightCommon();
      const idle = otherColor(live);
      this.target = idle;
      const plan = await this.planStart(idle, { tag });
      const liveStatus = await this.inspect('preflight', this.service.colors[live].container);
      this.from = this.describeColor(live, liveStatus);
      this.to = this.describeColor(idle, undefined, plan.image);
      scope.detail = `${live} is live; deploying ${plan.image} to ${idle} (${this.service.colors[idle].container}, compose project ${plan.target.project})`;
      return plan;
    });
    await this.deployInto(plan);
  }

  async switchColor(): Promise<void> {
    const status = await this.step('preflight', async (scope) => {
      const live = await this.preflightCommon();
      const target = otherColor(live);
      this.target = target;
      const found = await this.runningTarget(target);
      if (found.problem || !found.status) throw new StepFailure('preflight', `Cannot switch ${this.service.name} to ${target}: ${found.problem}. Deploy to it instead.`);
      this.from = this.describeColor(live, await this.inspect('preflight', this.service.colors[live].container));
      this.to = this.describeColor(target, found.status);
      scope.detail = `${live} is live; switching to ${target} (${found.status.image})`;
      return found.status;
    });
    await this.flipTo(this.target as Color, status);
  }

  async rollback(): Promise<void> {
    const next = await this.step('preflight', async (scope): Promise<{ flip: ContainerStatus } | { plan: StartPlan }> => {
      const live = await this.preflightCommon();
      const history = summarizeHistory(await this.retrying('preflight', 'reading the journal', () => this.ports.journal.read(500)));
      const last = [...history].reverse().find((item) => item.service === this.service.name && item.outcome === 'succeeded' && item.from && item.to);
      if (!last || !last.from || !last.to) throw new StepFailure('preflight', `Nothing to roll back to: the journal on ${this.hostName} has no finished deploy, switch or rollback of ${this.service.name}.`);
      if (last.to.color !== live) {
        throw new StepFailure(
          'preflight',
          `The last ${last.kind} of ${this.service.name} (${last.startedAt}) made ${last.to.color} live, but the switch file now says ${live}: someone switched since. Rollback refuses to guess; use switch or deploy.`,
        );
      }
      const back = last.from;
      this.target = back.color;
      this.from = this.describeColor(live, await this.inspect('preflight', this.service.colors[live].container));
      const found = await this.runningTarget(back.color);
      if (found.status && !found.problem && (back.image === undefined || found.status.image === back.image)) {
        this.to = this.describeColor(back.color, found.status);
        scope.detail = `${back.color} still runs ${found.status.image}: switching back to it`;
        return { flip: found.status };
      }
      if (!back.image) throw new StepFailure('preflight', `Cannot roll back to ${back.color}: ${found.problem ?? 'it runs another image'}, and the journal does not say which image it ran.`);
      this.tag = parseImageReference(back.image).tag;
      const plan = await this.planStart(back.color, back.image);
      this.to = this.describeColor(back.color, undefined, plan.image);
      scope.detail = `${back.color} ${found.problem ?? `runs ${found.status?.image ?? 'another image'}`}: redeploying ${back.image} to it`;
      return { plan };
    });
    if ('flip' in next) await this.flipTo(this.target as Color, next.flip);
    else await this.deployInto(next.plan);
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

// ---------------------------------------------------------------------------------------------
// Public API

type ServiceLookup = { ok: true; service: BlueGreenService } | { ok: false; error: string };

export function findBlueGreenService(profile: HostProfile, name: string): ServiceLookup {
  const service = profile.services.find((s) => s.name === name);
  const known = profile.services.map((s) => `${s.name} (${s.kind === 'blueGreen' ? 'Blue-Green' : 'single'})`).join(', ') || 'none';
  if (!service) return { ok: false, error: `There is no service "${name}" on ${profile.name} (services: ${known}).` };
  if (service.kind !== 'blueGreen') return { ok: false, error: `"${name}" is a single-container service; deploy, switch and rollback here are for Blue-Green services.` };
  return { ok: true, service };
}

function refused(ports: DeployPorts, kind: OperationKind, service: string, message: string, options: RunOptions): OperationResult {
  return {
    id: options.newId ? options.newId() : globalThis.crypto.randomUUID(),
    kind,
    service,
    host: ports.hostName,
    ok: false,
    outcome: 'failed',
    traffic: { color: undefined, isCertain: false, why: 'nothing was read or changed on the host' },
    steps: [],
    totalMs: 0,
    error: { code: 'badInput', message },
    notes: [],
  };
}

/** Deploys `request.tag` of the service's image to its idle color, then switches Nginx to it. */
export async function deploy(ports: DeployPorts, profile: HostProfile, request: DeployRequest, options: RunOptions = {}): Promise<OperationResult> {
  const found = findBlueGreenService(profile, request.service);
  if (!found.ok) return refused(ports, 'deploy', request.service, found.error, options);
  const tagProblem = checkImageTag(request.tag);
  if (tagProblem) return refused(ports, 'deploy', request.service, tagProblem, options);
  const operation = new Operation(ports, found.service, 'deploy', request, options);
  return operation.run(() => operation.deploy(request.tag));
}

/** Switches Nginx to the service's other color, which must already run and answer its health path. */
export async function switchColor(ports: DeployPorts, profile: HostProfile, request: OperationRequest, options: RunOptions = {}): Promise<OperationResult> {
  const found = findBlueGreenService(profile, request.service);
  if (!found.ok) return refused(ports, 'switch', request.service, found.error, options);
  const operation = new Operation(ports, found.service, 'switch', request, options);
  return operation.run(() => operation.switchColor());
}

/**
 * Undoes the service's last successful operation: switches back when the previous color still runs
 * the image it ran, otherwise redeploys that image (from the journal) to it.
 */
export async function rollback(ports: DeployPorts, profile: HostProfile, request: OperationRequest, options: RunOptions = {}): Promise<OperationResult> {
  const found = findBlueGreenService(profile, request.service);
  if (!found.ok) return refused(ports, 'rollback', request.service, found.error, options);
  const operation = new Operation(ports, found.service, 'rollback', request, options);
  return operation.run(() => operation.rollback());
}

/** Merges the journal's `started` and `finished` lines into one item per operation, oldest first. */
export function summarizeHistory(entries: readonly JournalEntry[]): HistoryItem[] {
  const items = new Map<string, HistoryItem>();
  for (const entry of entries) {
    const existing = items.get(entry.id);
    const item: HistoryItem = existing ?? {
      id: entry.id,
      kind: entry.kind,
      service: entry.service,
      host: entry.host,
      who: entry.who,
      startedAt: entry.at,
      outcome: 'interrupted',
      steps: [],
    };
    if (entry.phase === 'started') {
      item.startedAt = entry.at;
    } else {
      item.finishedAt = entry.at;
      item.outcome = entry.outcome ?? 'uncertain';
      if (entry.steps) item.steps = entry.steps;
      if (entry.totalMs !== undefined) item.totalMs = entry.totalMs;
      if (entry.trafficOn) item.trafficOn = entry.trafficOn;
      if (entry.error) item.error = entry.error;
      if (entry.failedStep) item.failedStep = entry.failedStep;
      if (entry.warmUntil) item.warmUntil = entry.warmUntil;
    }
    if (entry.tag) item.tag = entry.tag;
    if (entry.from) item.from = entry.from;
    if (entry.to) item.to = entry.to;
    if (!existing) items.set(entry.id, item);
  }
  return [...items.values()];
}

/** One line per step for progress output: `✓ waitReady 2.3 s  handdoc-spring-green answered ...`. */
export function formatStep(step: StepRecord): string {
  const mark = { ok: '✓', failed: '✗', skipped: '–', cancelled: '■' }[step.outcome];
  return `${mark} ${step.name.padEnd(9)} ${seconds(step.durationMs).padStart(7)}${step.detail ? `  ${step.detail.split('\n')[0]}` : ''}`;
}
