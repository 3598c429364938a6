/**
 * The single-container strategy (handdoc-fastapi): a new image replaces the one container in place,
 * with a short downtime that Switchyard measures instead of hiding.
 *
 *   phase:   checking ──► pulled ──────────► recreating ───────────► recreated ──► ready
 *   undo:    nothing      nothing (the new    none: the old container   none: roll back = redeploy the
 *                         image stays cached)  is stopped (point of      previous image (it is in the journal)
 *                                              no return)
 *
 * The pull runs while the old container still serves; the downtime starts when Switchyard begins to
 * stop it and ends at the new container's first successful probe of its health path, both read from
 * the clock port. The recreate step ignores cancellation: a cancel lands before it (nothing changed)
 * or after it (the new container is left to start; waiting for it is what stops).
 */
import { parseImageReference } from './composeFile';
import { renderImageOverride, resolveComposeTarget } from './deployCompose';
import { summarizeHistory } from './deployRecords';
import type { ComposeTarget, ContainerStatus, DeployPorts, InPlaceImages, JournalOutcome, OperationKind, OperationRequest, OperationResult } from './deployTypes';
import type { SingleService } from './hostProfile';
import { describeError } from './logger';
import { mib, OperationCore, seconds, StepFailure, type RunOptions } from './operationCore';

type SinglePhase = 'checking' | 'pulled' | 'recreating' | 'recreated' | 'ready';

interface RecreatePlan {
  image: string;
  target: ComposeTarget;
  overrideText: string;
  skipPull: boolean;
  /** The container before (running or not), undefined when there was none. */
  old?: ContainerStatus;
}

export class SingleOperation extends OperationCore {
  private phase: SinglePhase = 'checking';
  private inPlace?: InPlaceImages;
  private downtimeStartedMs?: number;
  private downtimeMs?: number;

  constructor(
    ports: DeployPorts,
    private readonly service: SingleService,
    kind: OperationKind,
    request: OperationRequest,
    options: RunOptions,
  ) {
    super(ports, service.name, kind, request, options);
  }

  private async startOperation(): Promise<void> {
    await this.acquireLock();
    await this.startJournal();
  }

  /** Compose target, image availability, disk, and whether the old container answers now; changes nothing. */
  private async plan(image: string | { tag: string }): Promise<RecreatePlan> {
    const { container, composeFile, port, healthPath } = this.service;
    const old = await this.inspect('preflight', container);
    const composeText = await this.retrying('preflight', `reading ${composeFile}`, () => this.ports.files.read(composeFile));
    if (composeText === undefined) throw new StepFailure('preflight', `The compose file of ${this.service.name}, ${composeFile}, does not exist on ${this.hostName}. Nothing was changed.`);
    const self = { container, composeFile, port };
    const resolved = resolveComposeTarget(self, composeText, old, { profile: self, status: undefined });
    if (!resolved.ok) throw new StepFailure('preflight', `${resolved.error} Nothing was changed.`);
    const fullImage = typeof image === 'string' ? image : `${resolved.imageName}:${image.tag}`;
    const { skipPull, isLocal } = await this.checkImageAvailable(fullImage, 'Nothing was changed.');
    const resources = await this.retrying('preflight', 'reading memory and disk', () => this.ports.host.resources({}));
    if (!isLocal && resources.dockerDiskAvailableKb !== undefined && resources.dockerDiskAvailableKb < this.settings.minFreeDiskKb) {
      throw new StepFailure('preflight', `Only ${mib(resources.dockerDiskAvailableKb)} is free where Docker keeps images (at least ${mib(this.settings.minFreeDiskKb)} needed to pull ${fullImage}). Nothing was changed.`);
    }
    if (old?.state === 'running') {
      const answer = await this.ports.http.get(port, healthPath, this.settings.probeTimeoutMs, this.signal).then(
        (value) => (value.status >= 200 && value.status < 400 ? undefined : `it answers ${healthPath} with HTTP ${value.status}`),
        (error: unknown) => `it does not answer ${healthPath} (${describeError(error)})`,
      );
      if (answer) this.notes.push(`${container} was already not serving before this ${this.kind}: ${answer}. The measured downtime starts when Switchyard stopped it.`);
    } else {
      this.notes.push(old ? `${container} was ${old.state} before this ${this.kind}: the service was already down.` : `${container} did not exist before this ${this.kind}.`);
    }
    const overrideText = renderImageOverride(resolved.target, fullImage, resolved.composeVersion, `${this.kind} ${this.id}`);
    return { image: fullImage, target: resolved.target, overrideText, skipPull, ...(old ? { old } : {}) };
  }

  async deploy(image: string | { tag: string }): Promise<void> {
    if (typeof image !== 'string') this.tag = image.tag;
    const plan = await this.step('preflight', async (scope) => {
      await this.startOperation();
      const plan = await this.plan(image);
      this.inPlace = { container: this.service.container, ...(plan.old ? { from: plan.old.image } : {}), to: plan.image, isRecreated: false };
      scope.detail = `${this.service.container} runs ${plan.old?.image ?? 'nothing'}; replacing it with ${plan.image} in place (compose project ${plan.target.project}); the service is down from the stop until the new one answers ${this.service.healthPath}`;
      return plan;
    });
    await this.replace(plan);
  }

  async rollback(): Promise<void> {
    const plan = await this.step('preflight', async (scope) => {
      await this.startOperation();
      const history = summarizeHistory(await this.retrying('preflight', 'reading the journal', () => this.ports.journal.read(500)));
      // The last operation that really replaced the container, whatever its outcome: a failed deploy is what one rolls back.
      const last = [...history].reverse().find((item) => item.service === this.service.name && item.id !== this.id && item.inPlace?.isRecreated);
      const back = last?.inPlace?.from;
      if (!last || !back) {
        throw new StepFailure('preflight', `Nothing to roll back to: the journal on ${this.hostName} has no deploy of ${this.service.name} that replaced a container whose image it recorded.`);
      }
      const current = await this.inspect('preflight', this.service.container);
      if (current && current.image !== last.inPlace?.to) {
        throw new StepFailure(
          'preflight',
          `The last ${last.kind} of ${this.service.name} (${last.startedAt}) put ${last.inPlace?.to} in place, but ${this.service.container} now runs ${current.image}: someone changed it since. Rollback refuses to guess; deploy the tag you want.`,
        );
      }
      this.tag = parseImageReference(back).tag;
      const plan = await this.plan(back);
      this.inPlace = { container: this.service.container, ...(plan.old ? { from: plan.old.image } : {}), to: plan.image, isRecreated: false };
      scope.detail = `the ${last.kind} of ${last.startedAt} replaced ${back}: putting it back in place of ${plan.old?.image ?? 'nothing'}`;
      return plan;
    });
    await this.replace(plan);
  }

  /** Pull (the old container still serves), recreate (downtime starts), wait until the new one answers (downtime ends). */
  private async replace(plan: RecreatePlan): Promise<void> {
    await this.pullImage(plan.image, plan.skipPull);
    this.phase = 'pulled';
    const created = await this.recreate(plan);
    await this.waitReady({ container: this.service.container, port: this.service.port, path: this.service.healthPath }, created, this.settings.readyTimeoutMs, true);
    this.phase = 'ready';
    const readyMs = this.readyMs as number;
    const startedMs = this.downtimeStartedMs as number;
    this.downtimeMs = Math.max(0, readyMs - startedMs);
    this.emit({ kind: 'backUp', container: this.service.container, atMs: readyMs, downtimeMs: this.downtimeMs });
  }

  /** Stops the old container, then `compose up --force-recreate` with the override. Cancellation is ignored here on purpose. */
  private async recreate(plan: RecreatePlan): Promise<ContainerStatus> {
    return this.step(
      'recreate',
      async (scope) => {
        const { container } = this.service;
        this.phase = 'recreating';
        if (this.inPlace) this.inPlace.isRecreated = true;
        this.downtimeStartedMs = this.ports.clock.now();
        this.emit({ kind: 'downtimeStarted', container, atMs: this.downtimeStartedMs });
        // Stopped by Switchyard rather than by compose, so the moment the service goes down is known.
        if (plan.old?.state === 'running') await this.retrying('recreate', `stopping ${container}`, () => this.ports.docker.stop(container, this.settings.stopTimeoutS));
        const stoppedMs = this.ports.clock.now();
        await this.retrying('recreate', 'compose up', () => this.ports.compose.up(plan.target, plan.overrideText));
        const status = await this.inspect('recreate', container);
        if (!status) throw new StepFailure('startFailed', `compose up reported success but there is no container ${container}: does ${plan.target.composeFile} set container_name: ${container}?`);
        if (plan.old && status.id === plan.old.id) throw new StepFailure('startFailed', `compose up did not replace ${container} (it is still the old container).`);
        this.phase = 'recreated';
        scope.detail = `${plan.old?.state === 'running' ? `stopped ${container} in ${seconds(stoppedMs - this.downtimeStartedMs)}; ` : ''}created it from ${plan.image}`;
        return status;
      },
    );
  }

  protected async finish(failure: StepFailure | undefined): Promise<OperationResult> {
    const outcome: JournalOutcome = failure ? (failure.code === 'cancelled' ? 'cancelled' : 'failed') : 'succeeded';
    let message = failure?.message;
    const { container, name } = this.service;
    const previous = this.inPlace?.from;
    if (failure && (this.phase === 'recreating' || this.phase === 'recreated')) {
      const back = previous ? ` The previous image was ${previous}: roll back to redeploy it (CLI: switchyard rollback --service ${name}).` : '';
      message =
        this.phase === 'recreating'
          ? `${message} ${container} was stopped and could not be recreated, so ${name} is DOWN.${back}`
          : failure.code === 'cancelled'
            ? `${message} ${container} was already replaced with ${this.inPlace?.to}; it keeps starting, but Switchyard no longer waits for it.${back}`
            : `${message} ${container} was replaced with ${this.inPlace?.to}, which did not become ready: ${name} is down or unhealthy.${back}`;
    } else if (failure && this.isJournalStarted) {
      // Preflight refusals already end with "Nothing was changed."; name the container instead of saying it twice.
      const said = message?.replace(/ Nothing was changed\.$/, '');
      message = `${said} ${container} was not touched${this.phase === 'pulled' ? ` (the pulled image ${this.inPlace?.to} stays on the host)` : ''}.`;
    }
    const failedStep = failure ? this.failedStep() : undefined;
    const totalMs = Math.max(0, this.ports.clock.now() - this.startedMs);
    await this.closeJournal(
      {
        outcome,
        ...(message ? { error: message } : {}),
        ...(failedStep ? { failedStep } : {}),
        ...(this.inPlace ? { inPlace: { ...this.inPlace } } : {}),
        ...(this.downtimeMs !== undefined ? { downtimeMs: this.downtimeMs } : {}),
      },
      totalMs,
    );
    return {
      id: this.id,
      kind: this.kind,
      service: name,
      host: this.hostName,
      ok: !failure,
      outcome,
      traffic: { color: undefined, isCertain: false, why: `single-container service: Nginx proxies to 127.0.0.1:${this.service.port}, whatever runs there` },
      steps: [...this.steps],
      totalMs,
      ...(this.inPlace ? { inPlace: { ...this.inPlace } } : {}),
      ...(this.downtimeMs !== undefined ? { downtimeMs: this.downtimeMs } : {}),
      ...(failure ? { error: { code: failure.code, ...(failedStep ? { step: failedStep } : {}), message: message ?? failure.message, ...(failure.logs ? { logs: failure.logs } : {}) } } : {}),
      notes: [...this.notes],
    };
  }
}
