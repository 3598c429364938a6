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
  type ColorImage,
  type ComposeTarget,
  type ContainerStatus,
  type DeployPorts,
  type DeployRequest,
  type JournalEntry,
  type JournalOutcome,
  type OperationKind,
  type OperationRequest,
  type OperationResult,
  type StepName,
  type StepRecord,
  type TrafficState,
} from './deployTypes';
import { summarizeHistory } from './deployRecords';
import { parseVerifyUrl, type BlueGreenService, type Color, type HostProfile, type ServiceProfile } from './hostProfile';
import { describeError } from './logger';
import { firstErrorLine, isCancellation, lastHealthCheck, mib, OperationCore, seconds, StepFailure, type ProbeTarget, type RunOptions } from './operationCore';
import { liveColorOf, parseSwitchFile, renderSwitch, resolveActiveColor, type ParsedSwitch } from './nginxSwitchFile';
import { SingleOperation } from './singleDeploy';

export type { RunOptions } from './operationCore';
export { excerptLog } from './operationCore';
export { summarizeHistory } from './deployRecords';

type Phase = 'checking' | 'started' | 'switching' | 'switched';

const otherColor = (color: Color): Color => (color === 'blue' ? 'green' : 'blue');

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

class Operation extends OperationCore {
  private phase: Phase = 'checking';
  private live?: Color;
  private target?: Color;
  private switchText?: string;
  private parsedSwitch?: ParsedSwitch;
  private isReloadAttempted = false;
  private isVerified = false;
  /** The color someone else's switch made live during this run (seen before removing or stopping a color). */
  private switchedByOthersTo?: Color;
  private startPlan?: StartPlan;
  private switchedMs?: number;
  private from?: ColorImage;
  private to?: ColorImage;
  private oldColorState?: 'running' | 'stopped';
  private warmUntil?: string;

  constructor(
    ports: DeployPorts,
    private readonly service: BlueGreenService,
    kind: OperationKind,
    request: OperationRequest,
    options: RunOptions,
  ) {
    super(ports, service.name, kind, request, options);
  }

  private probeTarget(color: Color): ProbeTarget {
    const { container, port } = this.service.colors[color];
    return { container, port, path: this.service.healthPath };
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

  /** The color the switch file names now: someone (deploy.sh, a hand edit) may have switched during this run. Undefined when it cannot be told. */
  private async colorOnDiskNow(step: StepName): Promise<Color | undefined> {
    const path = this.service.switchFile;
    const text = await this.retrying(step, 'reading the switch file', () => this.ports.files.read(path)).catch(() => undefined);
    const live = text === undefined ? undefined : liveColorOf(text, this.service);
    return live && 'color' in live ? live.color : undefined;
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

    const { skipPull, isLocal } = await this.checkImageAvailable(fullImage, 'Nothing was started.');

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
    await this.pullImage(plan.image, plan.skipPull);
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
        if (!reload.ok) {
          // `nginx -s reload` exits non-zero only before its kill() succeeds (config, pid file, kill): the running Nginx was not told.
          this.isReloadAttempted = false;
          throw new StepFailure('switchFailed', `nginx -s reload failed: ${firstErrorLine(reload.output)}. Nginx did not get the reload signal, so it still runs its old configuration.`);
        }
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
      if ((await this.colorOnDiskNow('retire')) === old) {
        this.switchedByOthersTo = old;
        this.oldColorState = 'running';
        scope.detail = `left ${container} running: ${this.service.switchFile} names ${old} again`;
        this.notes.push(`${container} was not stopped: ${this.service.switchFile} sends traffic to ${old} again (changed by someone else during this run).`);
        return;
      }
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
      if ((await this.colorOnDiskNow('startIdle')) === plan.color) {
        this.switchedByOthersTo = plan.color;
        this.notes.push(`${container} was not removed: ${this.service.switchFile} now sends traffic to ${plan.color} (changed by someone else during this run).`);
        return;
      }
      await this.retrying('startIdle', `removing ${container}`, () => this.ports.docker.remove(container));
      this.notes.push(`Removed the new ${plan.color} container (${container}, ${plan.image}).`);
    } catch (error) {
      this.notes.push(`Could not remove the new ${plan.color} container ${container}: ${describeError(error)}. It takes no traffic; remove it by hand.`);
    }
  }

  protected async finish(failure: StepFailure | undefined): Promise<OperationResult> {
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
      traffic = this.switchedByOthersTo
        ? { color: this.switchedByOthersTo, isCertain: false, why: 'someone else changed the switch file during this run' }
        : this.isVerified
          ? { color: target, isCertain: true }
          : { color: target, isCertain: false, why: this.service.verifyUrl ? 'Nginx was reloaded but the new color was not confirmed' : 'no verifyUrl: Nginx was reloaded, not asked' };
      if (failure) {
        const old = live ? this.service.colors[live].container : 'the old color';
        message = `${message} Traffic is already on ${target}${this.oldColorState === 'stopped' ? '' : ` and ${old} still runs`}: to go back, run a rollback.`;
        if (this.oldColorState === undefined) this.oldColorState = 'running';
      }
    } else {
      traffic = this.switchedByOthersTo
        ? { color: this.switchedByOthersTo, isCertain: false, why: 'someone else changed the switch file during this run' }
        : live
          ? { color: live, isCertain: true }
          : { color: undefined, isCertain: false, why: 'the switch file was not read; Switchyard did not change it' };
    }

    const failedStep = failure ? this.failedStep() : undefined;
    const totalMs = Math.max(0, this.ports.clock.now() - this.startedMs);
    await this.closeJournal(
      {
        ...(this.from ? { from: this.from } : {}),
        ...(this.to ? { to: this.to } : {}),
        outcome,
        ...(traffic.color ? { trafficOn: traffic.color } : {}),
        ...(message ? { error: message } : {}),
        ...(failedStep ? { failedStep } : {}),
        ...(this.warmUntil ? { warmUntil: this.warmUntil } : {}),
      },
      totalMs,
    );

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
    await this.waitReady(this.probeTarget(plan.color), created, this.settings.readyTimeoutMs, true);
    await this.switchTo(plan.color, created);
    await this.verify(plan.color);
    await this.retire(live);
  }

  /** Switch path: the target color already runs; check it answers, switch, verify. The old color keeps running. */
  private async flipTo(color: Color, status: ContainerStatus): Promise<void> {
    await this.waitReady(this.probeTarget(color), status, this.settings.switchReadyTimeoutMs, false);
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

}

// ---------------------------------------------------------------------------------------------
// Public API

type ServiceLookup = { ok: true; service: BlueGreenService } | { ok: false; error: string };

export function findBlueGreenService(profile: HostProfile, name: string): ServiceLookup {
  const service = profile.services.find((s) => s.name === name);
  const known = profile.services.map((s) => `${s.name} (${s.kind === 'blueGreen' ? 'Blue-Green' : 'single'})`).join(', ') || 'none';
  if (!service) return { ok: false, error: `There is no service "${name}" on ${profile.name} (services: ${known}).` };
  if (service.kind !== 'blueGreen') return { ok: false, error: `"${name}" is a single-container service: it has no second color to switch to. Deploy and rollback replace its container in place; convert it to Blue-Green for switches without downtime.` };
  return { ok: true, service };
}

type AnyServiceLookup = { ok: true; service: ServiceProfile } | { ok: false; error: string };

/** Any service of the profile: Blue-Green ones deploy to their idle color, single ones in place. */
export function findService(profile: HostProfile, name: string): AnyServiceLookup {
  const service = profile.services.find((s) => s.name === name);
  if (service) return { ok: true, service };
  const known = profile.services.map((s) => `${s.name} (${s.kind === 'blueGreen' ? 'Blue-Green' : 'single'})`).join(', ') || 'none';
  return { ok: false, error: `There is no service "${name}" on ${profile.name} (services: ${known}).` };
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

/**
 * Deploys `request.tag` of the service's image. Blue-Green: to its idle color, then switches Nginx to it.
 * Single container: pulls, replaces the container in place and reports the measured downtime.
 */
export async function deploy(ports: DeployPorts, profile: HostProfile, request: DeployRequest, options: RunOptions = {}): Promise<OperationResult> {
  const any = findService(profile, request.service);
  if (!any.ok) return refused(ports, 'deploy', request.service, any.error, options);
  const tagProblem = checkImageTag(request.tag);
  if (tagProblem) return refused(ports, 'deploy', request.service, tagProblem, options);
  if (any.service.kind === 'single') {
    const single = new SingleOperation(ports, any.service, 'deploy', request, options);
    return single.run(() => single.deploy({ tag: request.tag }));
  }
  const found = findBlueGreenService(profile, request.service);
  if (!found.ok) return refused(ports, 'deploy', request.service, found.error, options);
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
 * the image it ran, otherwise redeploys that image (from the journal) to it. A single-container service
 * gets the image its last in-place replacement removed (from the journal), again in place.
 */
export async function rollback(ports: DeployPorts, profile: HostProfile, request: OperationRequest, options: RunOptions = {}): Promise<OperationResult> {
  const any = findService(profile, request.service);
  if (any.ok && any.service.kind === 'single') {
    const single = new SingleOperation(ports, any.service, 'rollback', request, options);
    return single.run(() => single.rollback());
  }
  const found = findBlueGreenService(profile, request.service);
  if (!found.ok) return refused(ports, 'rollback', request.service, found.error, options);
  const operation = new Operation(ports, found.service, 'rollback', request, options);
  return operation.run(() => operation.rollback());
}

/** One line per step for progress output: `✓ waitReady 2.3 s  handdoc-spring-green answered ...`. */
export function formatStep(step: StepRecord): string {
  const mark = { ok: '✓', failed: '✗', skipped: '–', cancelled: '■' }[step.outcome];
  return `${mark} ${step.name.padEnd(9)} ${seconds(step.durationMs).padStart(7)}${step.detail ? `  ${step.detail.split('\n')[0]}` : ''}`;
}
