/**
 * One healthcheck wizard for one service: holds the wizard's state (what the webview shows) and turns
 * the webview's intents into host calls. The rules live in core (advisor, compose edits, diff) and the
 * effects in host (measure, write, recreate); this class sequences them and keeps the state current.
 * It outlives its panel: closing the wizard does not stop a measurement or a roll-out, and reopening
 * it shows where they are.
 */
import type Dockerode from 'dockerode';
import { parseImageReference, readCompose, type ComposeHealthcheck } from '../core/composeFile';
import { defaultProjectName } from '../core/deployCompose';
import { formatStep } from '../core/deployEngine';
import type { DeployEvent, OperationResult } from '../core/deployTypes';
import { describeMs, outlookSentences, recommendTimings, type HealthMeasurements, type Timings } from '../core/healthAdvisor';
import type { Color, HostProfile } from '../core/hostProfile';
import { unifiedDiff } from '../core/lineDiff';
import { describeError, type Logger } from '../core/logger';
import type { ComposeFileView, ContainerView, HealthcheckView, WebviewMessage, WizardState, TimingValues } from '../core/protocol';
import {
  checkValues,
  composeHealthcheckView,
  dockerHealthcheckView,
  editComposeFile,
  healthPathOf,
  patchOf,
  proposedTestCommand,
  serviceKeyFor,
  valuesOf,
  type DockerHealthConfig,
  type FileEdit,
  type WizardTarget,
} from '../core/wizardModel';
import { Emitter } from '../host/emitter';
import { composeTargetOf, composeUp, detectCompose, imageHealthcheck, inspectContainer, isCancelled, readTextFile, runningTimings, waitForHealthy, writeComposeFiles } from '../host/healthApply';
import type { HostConnection } from '../host/hostConnection';
import { measureStartup, planMeasurement, steadyDockerProbeMs, type MeasurePlan, type RunProgress } from '../host/healthMeasure';

export interface WizardSettings {
  measureRuns: number;
  measureDeadlineMs: number;
}

export interface WizardSessionDeps {
  connection: HostConnection;
  logger: Logger;
  settings: () => WizardSettings;
  /** The live color Nginx sends this Blue-Green service's traffic to, from the tree's snapshot. */
  liveColor: () => Color | undefined;
  /** Blue-Green roll-out through the deploy engine (loaded on first use). */
  deployBlueGreen?: (request: { service: string; tag: string; signal: AbortSignal; onEvent: (event: DeployEvent) => void }) => Promise<OperationResult>;
  /** Reads the host picture `liveColor` comes from again (a switch is no Docker event): before the live color is read, and after a roll-out switched. */
  refreshHost?: () => Promise<void>;
}

interface FileSource {
  path: string;
  color?: Color;
  container: string;
  port: number;
  readText?: string;
  serviceKey?: string;
  healthcheck?: ComposeHealthcheck;
}

const maxLines = 300;

export class WizardSession {
  private readonly _onDidChange = new Emitter<WizardState>();
  readonly onDidChange = this._onDidChange.event;
  private _state: WizardState;
  private files: FileSource[] = [];
  private containers = new Map<string, Dockerode.ContainerInspectInfo>();
  private pendingEdits: Array<Extract<FileEdit, { ok: true }>> = [];
  private measureController?: AbortController;
  private rolloutController?: AbortController;
  private isLoading = false;
  private isDisposed = false;

  constructor(
    readonly target: WizardTarget,
    private readonly deps: WizardSessionDeps,
  ) {
    this._state = {
      host: target.host,
      service: target.service,
      kind: target.kind,
      version: 0,
      measure: { status: 'idle', runsPlanned: deps.settings().measureRuns, deadlineMs: deps.settings().measureDeadlineMs, runs: [], dockerProbeMs: [] },
      apply: { status: 'idle', diffs: [], backups: [] },
      rollout: { status: 'idle', kind: 'none', plan: 'Write the compose file first (step 4); then it can be rolled out.', lines: [] },
    };
  }

  get state(): WizardState {
    return this._state;
  }

  /** The connection this session works on (a reconfigured host gets a new one, and a new session). */
  get connectionOwner(): HostConnection {
    return this.deps.connection;
  }

  private get profile(): HostProfile {
    return this.deps.connection.profile;
  }

  private emit(): void {
    if (this.isDisposed) return;
    this._state = { ...this._state, version: this._state.version + 1 };
    this._onDidChange.fire(this._state);
  }

  private set(patch: Partial<WizardState>): void {
    this._state = { ...this._state, ...patch };
    for (const [key, value] of Object.entries(patch)) if (value === undefined) delete (this._state as Record<string, unknown>)[key];
    this.emit();
  }

  /** Handles one (already validated) message from the webview. Never throws: errors go into the state. */
  async handle(message: WebviewMessage): Promise<void> {
    try {
      switch (message.type) {
        case 'ready':
          if (!this._state.current && !this.isLoading) await this.load();
          return;
        case 'reload':
          await this.load();
          return;
        case 'measure':
          await this.measure(message.runs, message.allowRestart ?? false);
          return;
        case 'declineRestart':
          this.declineRestart();
          return;
        case 'cancelMeasure':
          this.measureController?.abort();
          return;
        case 'edit':
          this.edit(message.values);
          return;
        case 'useRecommendation':
          this.useRecommendation();
          return;
        case 'preview':
          this.preview(message.values);
          return;
        case 'apply':
          await this.apply();
          return;
        case 'rollOut':
          await this.rollOut();
          return;
        case 'cancelRollOut':
          this.rolloutController?.abort();
          return;
        case 'showLog':
          return;
      }
    } catch (error) {
      this.deps.logger.error(`Healthcheck wizard (${this.target.service}): ${message.type} failed`, error);
      this.set({ busy: undefined, error: describeError(error) });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Step 1: what is there now

  private fileSources(): FileSource[] {
    const t = this.target;
    if (t.kind === 'single') return [{ path: t.composeFile, container: t.container, port: t.port }];
    return (['blue', 'green'] as const).map((color) => ({ path: t.colors[color].composeFile, color, container: t.colors[color].container, port: t.colors[color].port }));
  }

  /** The container measured and probed: the single one, or the live color. */
  private sourceFile(): FileSource {
    const live = this.target.kind === 'blueGreen' ? this.deps.liveColor() : undefined;
    return this.files.find((f) => f.color === live) ?? this.files[0];
  }

  async load(): Promise<void> {
    this.isLoading = true;
    this.set({ busy: 'Reading the compose file(s), the image and the health log…', error: undefined });
    try {
      const conn = this.deps.connection;
      await conn.connect();
      // Which color is live comes from the tree's picture, which no Docker event updates on a switch (another editor, the CLI, CI).
      if (this.target.kind === 'blueGreen') await this.refreshHost();
      const files = this.fileSources();
      this.containers.clear();
      for (const file of files) {
        const info = await inspectContainer(conn, file.container);
        if (info) this.containers.set(file.container, info);
      }
      const fileViews: ComposeFileView[] = [];
      for (const file of files) {
        const view: ComposeFileView = { path: file.path, problems: [], ...(file.color ? { color: file.color } : {}) };
        const read = await readTextFile(conn, file.path);
        if ('error' in read) {
          view.error = read.error;
        } else {
          file.readText = read.text;
          const compose = readCompose(read.text, file.path.slice(file.path.lastIndexOf('/') + 1));
          if (!compose.ok) {
            view.error = `${compose.error}${compose.line ? ` (line ${compose.line})` : ''}`;
          } else {
            const labels = this.containers.get(file.container)?.Config.Labels;
            const key = serviceKeyFor(compose.compose, file.container, labels?.['com.docker.compose.service']);
            if (key) {
              file.serviceKey = key;
              view.serviceKey = key;
              const service = compose.compose.services.find((s) => s.name === key);
              if (service?.healthcheck) {
                file.healthcheck = service.healthcheck;
                view.healthcheck = composeHealthcheckView(service.healthcheck);
              }
            } else {
              view.error = `No service of this file runs ${file.container} (services: ${compose.compose.services.map((s) => s.name).join(', ') || 'none'}); set container_name in it.`;
            }
            view.problems = compose.compose.problems.filter((p) => !p.service || p.service === key).map((p) => `${p.line ? `line ${p.line}: ` : ''}${p.message}`);
          }
        }
        fileViews.push(view);
      }
      this.files = files;
      const source = this.sourceFile();
      const sourceInfo = this.containers.get(source.container);
      const imageRef = sourceInfo?.Config.Image ?? readComposeImage(source.readText, source.serviceKey) ?? '';
      const image = imageRef ? await imageHealthcheck(conn, imageRef) : { error: 'no container and no image: in the compose file' };
      const imageView: { ref: string; healthcheck?: HealthcheckView; error?: string } = { ref: imageRef || 'unknown' };
      if (image.healthcheck) imageView.healthcheck = dockerHealthcheckView(image.healthcheck as DockerHealthConfig, "the image's HEALTHCHECK (Dockerfile)");
      if (image.error) imageView.error = image.error;
      const live = this.target.kind === 'blueGreen' ? this.deps.liveColor() : undefined;
      const containerViews: ContainerView[] = files.flatMap((file) => {
        const info = this.containers.get(file.container);
        if (!info) return [];
        return [containerViewOf(info, file.color, file.color ? file.color === live : undefined)];
      });
      const notes: string[] = [];
      const sourceHc = source.healthcheck;
      const needsTest = !sourceHc?.test && !image.healthcheck;
      if (!sourceHc && image.healthcheck) notes.push("The compose file has no healthcheck: the container inherits the image's HEALTHCHECK. Writing timings adds a healthcheck to the compose file that overrides the image's timings (its test is kept).");
      if (needsTest) notes.push('There is no healthcheck at all: Docker never reports this service healthy or unhealthy. Step 3 proposes one; confirm its command and health path before writing it.');
      if (sourceHc?.isDisabled) notes.push('The healthcheck is disabled (disable: true or test: NONE): new timings take effect only once it is enabled.');
      for (const file of files) {
        const info = this.containers.get(file.container);
        const hc = file.healthcheck;
        if (!info || !hc) continue;
        const running = runningTimings(info);
        const written: Partial<Timings> = { intervalMs: hc.intervalMs, timeoutMs: hc.timeoutMs, startPeriodMs: hc.startPeriodMs, retries: hc.retries };
        if ((['intervalMs', 'timeoutMs', 'startPeriodMs', 'retries'] as const).some((k) => written[k] !== undefined && written[k] !== running[k])) {
          notes.push(`${file.container} runs other timings than ${file.path.slice(file.path.lastIndexOf('/') + 1)} says: the file changed since the container was created (a recreate applies it).`);
        }
      }
      if (files.some((f) => f.healthcheck?.startIntervalMs !== undefined)) {
        const version = await conn.docker().version().catch(() => undefined);
        const major = Number(version?.Version?.split('.')[0]);
        if (Number.isFinite(major) && major < 25) notes.push(`start_interval needs Docker Engine 25 or newer; this host runs ${version?.Version}, which ignores it.`);
      }
      const healthPath = healthPathOf(sourceHc?.test ?? undefined, this.target.healthPath);
      const values: TimingValues = valuesOf(fileViews.find((f) => f.path === source.path)?.healthcheck ?? imageView.healthcheck);
      if (needsTest) values.test = proposedTestCommand(source.port, healthPath);
      this.set({
        current: { files: fileViews, image: imageView, containers: containerViews, healthPath, port: source.port, notes },
        busy: undefined,
      });
      this.setEdit(values, true);
      await this.refreshPlan();
      if (this._state.apply.status !== 'written') {
        // Read afresh: an earlier preview or refusal was about the old content.
        this.pendingEdits = [];
        this.set({ apply: { status: 'idle', diffs: [], backups: [] } });
      }
    } finally {
      this.isLoading = false;
      if (this._state.busy) this.set({ busy: undefined });
    }
  }

  private async refreshPlan(): Promise<MeasurePlan> {
    const source = this.sourceFile();
    const idle = this.files.find((f) => f !== source);
    const plan = await planMeasurement(this.deps.connection, {
      source: source.container,
      port: source.port,
      healthPath: this._state.current?.healthPath ?? this.target.healthPath,
      ...(idle ? { idle: { container: idle.container, port: idle.port } } : {}),
    });
    const measure = { ...this._state.measure };
    delete measure.method;
    delete measure.consentQuestion;
    delete measure.error;
    if (plan.kind === 'impossible') measure.error = plan.reason;
    else measure.method = plan.explanation;
    this.set({ measure });
    return plan;
  }

  // -------------------------------------------------------------------------------------------
  // Step 2: measure

  private async measure(runs: number, allowRestart: boolean): Promise<void> {
    if (this._state.measure.status === 'running') return;
    if (!this._state.current) await this.load();
    const settings = this.deps.settings();
    const plan = await this.refreshPlan();
    if (plan.kind === 'impossible') return;
    if (plan.kind === 'restart' && plan.isLive && !allowRestart) {
      this.set({ measure: { ...this._state.measure, consentQuestion: plan.consentQuestion ?? `Restart ${plan.container}?` } });
      return;
    }
    const controller = new AbortController();
    this.measureController = controller;
    const source = this.sourceFile();
    this.set({ measure: { status: 'running', runsPlanned: runs, deadlineMs: settings.measureDeadlineMs, method: plan.explanation, runs: [], dockerProbeMs: [] } });
    this.deps.logger.info(`Healthcheck wizard: measuring ${this.target.service} on ${this.profile.name}, ${runs} run(s): ${plan.explanation}`);
    try {
      const result = await measureStartup(this.deps.connection, plan, source.port, {
        runs,
        deadlineMs: settings.measureDeadlineMs,
        signal: controller.signal,
        logger: this.deps.logger,
        onProgress: (progress) => this.set({ measure: { ...this._state.measure, runs: progress.map(runView) } }),
      });
      this.set({ measure: { ...this._state.measure, status: 'done', runs: result.map(runView) } });
      this.deps.logger.info(`Healthcheck wizard: ${this.target.service} started in ${result.map((r) => (r.startupMs !== undefined ? describeMs(r.startupMs) : r.status)).join(', ')}`);
      this.recommend(result);
    } catch (error) {
      if (isCancelled(error)) this.set({ measure: { ...this._state.measure, status: 'cancelled' } });
      else {
        this.deps.logger.error(`Healthcheck wizard: measuring ${this.target.service} failed`, error);
        this.set({ measure: { ...this._state.measure, status: 'failed', error: describeError(error) } });
      }
    } finally {
      if (this.measureController === controller) this.measureController = undefined;
    }
  }

  private declineRestart(): void {
    if (!this._state.measure.consentQuestion) return;
    const measure = { ...this._state.measure };
    delete measure.consentQuestion;
    this.set({ measure });
    this.deps.logger.info(`Healthcheck wizard: ${this.target.service} not measured (restarting the live container was declined)`);
  }

  private facts(): { slowestStartupMs?: number; slowestProbeMs?: number } {
    const runs = this._state.measure.runs;
    const startups = runs.map((r) => r.startupMs).filter((v): v is number => v !== undefined);
    const probes = [...runs.flatMap((r) => r.probeMs), ...this._state.measure.dockerProbeMs];
    return {
      ...(startups.length > 0 ? { slowestStartupMs: Math.max(...startups) } : {}),
      ...(probes.length > 0 ? { slowestProbeMs: Math.max(...probes) } : {}),
    };
  }

  private recommend(runs: RunProgress[]): void {
    const startups = runs.map((r) => r.startupMs).filter((v): v is number => v !== undefined);
    const info = this.containers.get(this.sourceFile().container);
    const dockerProbeMs =
      info && startups.length > 0
        ? steadyDockerProbeMs(
            (info.State.Health?.Log ?? []).map((e) => ({ start: e.Start, end: e.End, exitCode: e.ExitCode })),
            info.State.StartedAt,
            Math.max(...startups),
          )
        : [];
    const measurements: HealthMeasurements = {
      runs: runs.map((r) => ({
        probeMs: r.probeMs,
        ...(r.startupMs !== undefined ? { startupMs: r.startupMs } : {}),
        ...(r.memoryKb !== undefined ? { memoryKb: r.memoryKb } : {}),
        ...(r.message && r.startupMs === undefined ? { failure: r.message } : {}),
      })),
      dockerProbeMs,
      deadlineMs: this._state.measure.deadlineMs,
    };
    const advice = recommendTimings(measurements);
    this.set({ measure: { ...this._state.measure, dockerProbeMs: dockerProbeMs.map((ms) => Math.round(ms)) } });
    if (!advice.ok) {
      this.set({ recommendation: undefined, recommendationProblem: advice.reason });
      return;
    }
    const r = advice.recommendation;
    this.set({
      recommendationProblem: undefined,
      recommendation: { interval: r.fields.interval, timeout: r.fields.timeout, retries: r.fields.retries, start_period: r.fields.start_period, summary: r.summary, warnings: r.warnings },
    });
    this.useRecommendation();
  }

  // -------------------------------------------------------------------------------------------
  // Step 3: the values

  private needsTest(): boolean {
    return this._state.edit?.needsTest ?? (!this.sourceFile()?.healthcheck?.test && !this._state.current?.image.healthcheck);
  }

  private setEdit(values: TimingValues, isReplacement: boolean): void {
    const needsTest = this.needsTest();
    const check = checkValues(values, this.facts(), needsTest);
    const outlook = check.outlook ? outlookSentences(check.outlook) : [];
    const revision = (this._state.edit?.revision ?? 0) + (isReplacement ? 1 : 0);
    const changed = JSON.stringify(values) !== JSON.stringify(this._state.edit?.values);
    const apply = changed && (this._state.apply.status === 'previewed' || this._state.apply.status === 'failed') ? { status: 'idle' as const, diffs: [], backups: [] } : this._state.apply;
    if (apply !== this._state.apply) this.pendingEdits = [];
    this.set({ edit: { values, issues: check.issueViews, outlook, needsTest, revision }, apply });
  }

  private edit(values: TimingValues): void {
    this.setEdit(values, false);
  }

  private useRecommendation(): void {
    const r = this._state.recommendation;
    if (!r) return;
    const values: TimingValues = { interval: r.interval.value, timeout: r.timeout.value, retries: r.retries.value, start_period: r.start_period.value };
    const test = this._state.edit?.values.test;
    if (test !== undefined) values.test = test;
    this.setEdit(values, true);
  }

  // -------------------------------------------------------------------------------------------
  // Step 4: diff, write, roll out

  private preview(values: TimingValues): void {
    this.setEdit(values, false);
    const check = checkValues(values, this.facts(), this.needsTest());
    if (check.hasErrors) {
      this.set({ apply: { status: 'failed', diffs: [], backups: [], message: 'Some values are not valid (see step 3): nothing to write yet.' } });
      return;
    }
    const patch = patchOf(values, this.needsTest());
    const edits: FileEdit[] = this.files.map((file) =>
      file.readText === undefined || !file.serviceKey ? { ok: false, path: file.path, error: `${file.path} could not be read or has no service for ${file.container}.` } : editComposeFile(file.path, file.readText, file.serviceKey, patch),
    );
    const failed = edits.find((e): e is Extract<FileEdit, { ok: false }> => !e.ok);
    if (failed) {
      this.pendingEdits = [];
      this.set({ apply: { status: 'failed', diffs: [], backups: [], message: failed.error } });
      return;
    }
    const ok = edits as Array<Extract<FileEdit, { ok: true }>>;
    this.pendingEdits = ok.filter((e) => e.newText !== e.readText);
    this.set({
      apply: {
        status: 'previewed',
        diffs: ok.map((e) => ({ path: e.path, diff: e.diff || '(no change: the file already has these values)', notes: e.notes })),
        backups: [],
        ...(this.pendingEdits.length === 0 ? { message: 'The file already has these values: nothing to write.' } : {}),
      },
    });
  }

  private async apply(): Promise<void> {
    if (this._state.apply.status !== 'previewed' || this.pendingEdits.length === 0) return;
    const edits = this.pendingEdits;
    this.set({ apply: { ...this._state.apply, status: 'writing' } });
    try {
      const outcome = await writeComposeFiles(this.deps.connection, edits.map((e) => ({ path: e.path, readText: e.readText, newText: e.newText })), this.deps.logger);
      if (!outcome.ok) {
        const before = edits.find((e) => e.path === outcome.changed.path)?.readText ?? '';
        this.set({
          apply: {
            ...this._state.apply,
            status: 'refused',
            message: `${outcome.changed.path} changed on the host since the wizard read it: nothing was written. Reload to start from its new content.`,
            changedOnHost: { path: outcome.changed.path, diff: unifiedDiff(before, outcome.changed.nowText, { oldName: 'as read', newName: 'on the host now' }), notes: [] },
          },
        });
        return;
      }
      for (const e of edits) {
        const file = this.files.find((f) => f.path === e.path);
        if (file) file.readText = e.newText;
      }
      this.pendingEdits = [];
      this.deps.logger.info(`Healthcheck wizard: wrote ${edits.map((e) => e.path).join(', ')} (backup: ${outcome.backups.map((b) => b.backupPath).join(', ')})`);
      this.set({
        apply: { ...this._state.apply, status: 'written', backups: outcome.backups, message: `Written. The running container${this.files.length > 1 ? 's keep' : ' keeps'} the old timings until ${this.files.length > 1 ? 'they are' : 'it is'} recreated.` },
        rollout: { status: 'idle', lines: [], ...this.rolloutPlan() },
      });
    } catch (error) {
      this.deps.logger.error(`Healthcheck wizard: writing the compose file failed`, error);
      this.set({ apply: { ...this._state.apply, status: 'failed', message: `Nothing was written: ${describeError(error)}` } });
    }
  }

  private rolloutPlan(): { kind: 'recreate' | 'blueGreen'; plan: string } {
    if (this.target.kind === 'single') {
      const file = this.files[0];
      return { kind: 'recreate', plan: `Recreate ${file.container} from ${file.path.slice(file.path.lastIndexOf('/') + 1)} with Compose (up -d --no-deps ${file.serviceKey ?? ''}); it is down while it starts (a single container), then wait until Docker reports it healthy with the new timings.` };
    }
    return {
      kind: 'blueGreen',
      plan: 'Deploy the live image again to the idle color (it starts with the new timings), wait until it answers, switch Nginx to it; the new timings take effect on the idle color first, the other color gets them at its next deploy.',
    };
  }

  private appendLine(line: string): void {
    const lines = [...this._state.rollout.lines, ...line.split('\n').filter((l) => l.trim() !== '')].slice(-maxLines);
    this.set({ rollout: { ...this._state.rollout, lines } });
  }

  private expectedTimings(): Timings | undefined {
    const values = this._state.edit?.values;
    if (!values) return undefined;
    return checkValues(values, {}, false).timings;
  }

  private async rollOut(): Promise<void> {
    if (this._state.apply.status !== 'written' || this._state.rollout.status === 'running') return;
    const timings = this.expectedTimings();
    if (!timings) return;
    const controller = new AbortController();
    this.rolloutController = controller;
    // A fresh run: nothing of the previous one's outcome (e.g. "another operation is running") stays on screen.
    this.set({ rollout: { ...this.rolloutPlan(), status: 'running', lines: [] } });
    const conn = this.deps.connection;
    const deadlineMs = Math.max(120_000, timings.startPeriodMs + (timings.retries + 2) * Math.max(timings.intervalMs, timings.timeoutMs) + 60_000);
    try {
      let container: string;
      if (this.target.kind === 'single') {
        const file = this.files[0];
        container = file.container;
        const flavor = await detectCompose(conn);
        this.appendLine(`Compose ${flavor.version} (${flavor.argv.join(' ')})`);
        const info = await inspectContainer(conn, file.container);
        const target = composeTargetOf(info?.Config.Labels, file.path, file.serviceKey, defaultProjectName(file.path));
        this.appendLine(`$ ${flavor.argv.join(' ')} -p ${target.project} ${target.files.map((f) => `-f ${f}`).join(' ')} up -d --no-deps ${target.service}`);
        const output = await composeUp(conn, flavor, target, controller.signal);
        this.appendLine(output || '(no output)');
      } else {
        if (!this.deps.deployBlueGreen) throw new Error('The Blue-Green deploy engine is not available in this build.');
        // The tag of the color live now, not when the wizard was opened: the idle color's may be older.
        await this.refreshHost();
        const live = this.deps.liveColor();
        const liveFile = this.files.find((f) => f.color === live);
        const liveInfo = liveFile ? await inspectContainer(conn, liveFile.container) : undefined;
        const image = liveInfo?.Config.Image;
        const tag = image ? (parseImageReference(image).tag ?? 'latest') : undefined;
        if (!live || !tag) throw new Error('Cannot tell the live color and its image tag: refresh the tree and try again.');
        this.appendLine(`Deploying ${tag} (the live image) to the idle color, then switching…`);
        const result = await this.deps.deployBlueGreen({ service: this.target.service, tag, signal: controller.signal, onEvent: (event) => this.onDeployEvent(event) });
        // Else the tree, and this session's next load, still call the old color live.
        await this.refreshHost();
        for (const step of result.steps) this.appendLine(formatStep(step));
        if (!result.ok) throw new Error(result.error?.message ?? `the deploy ended ${result.outcome}`);
        const to = result.to?.color ?? (live === 'blue' ? 'green' : 'blue');
        const from = result.from?.color ?? live;
        container = this.files.find((f) => f.color === to)?.container ?? '';
        let nextStep = `Traffic is on ${to} with the new timings. ${from} keeps the old ones until its next deploy (or switch back and deploy again).`;
        // A tag can move (CI pushes :latest again): then the roll-out shipped another build, not just new timings.
        const liveImageId = liveInfo?.Image;
        const deployedImageId = (await inspectContainer(conn, container))?.Image;
        if (liveImageId && deployedImageId && deployedImageId !== liveImageId) {
          const drift = `${tag} now names another build than the one that was live (${shortId(liveImageId)} → ${shortId(deployedImageId)}): the roll-out deployed that build, not only new timings. Roll back if that was not meant.`;
          this.appendLine(`Note: ${drift}`);
          nextStep = `${nextStep} ${drift}`;
        }
        this.set({ rollout: { ...this._state.rollout, nextStep } });
      }
      this.appendLine(`Waiting for Docker to report ${container} healthy with interval ${formatMs(timings.intervalMs)}, timeout ${formatMs(timings.timeoutMs)}, retries ${timings.retries}, start_period ${formatMs(timings.startPeriodMs)}…`);
      const healthy = await waitForHealthy(conn, container, timings, { deadlineMs, signal: controller.signal, onUpdate: (line) => this.appendLine(`${container}: ${line}`) });
      if (!healthy.ok) {
        this.set({ rollout: { ...this._state.rollout, status: 'failed', message: healthy.reason } });
        return;
      }
      this.deps.logger.info(`Healthcheck wizard: ${container} healthy ${describeMs(healthy.healthyAfterMs)} after start with the new timings`);
      this.set({ rollout: { ...this._state.rollout, status: 'done', healthyAfterMs: healthy.healthyAfterMs, message: `Docker reports ${container} healthy, ${describeMs(healthy.healthyAfterMs)} after it started, with the new timings.` } });
      await this.load();
    } catch (error) {
      if (isCancelled(error) || controller.signal.aborted) this.set({ rollout: { ...this._state.rollout, status: 'cancelled', message: 'Cancelled: the container may still be starting; check the tree.' } });
      else {
        this.deps.logger.error(`Healthcheck wizard: rolling out ${this.target.service} failed`, error);
        this.set({ rollout: { ...this._state.rollout, status: 'failed', message: describeError(error) } });
      }
    } finally {
      if (this.rolloutController === controller) this.rolloutController = undefined;
    }
  }

  /** Re-reads the host picture `liveColor` comes from; a failure is logged, the tree shows it. */
  private async refreshHost(): Promise<void> {
    await this.deps.refreshHost?.().catch((error: unknown) => this.deps.logger.warn(`Healthcheck wizard: re-reading ${this.profile.name} failed: ${describeError(error)}`));
  }

  private onDeployEvent(event: DeployEvent): void {
    if (event.kind === 'progress') this.appendLine(`${event.step}: ${event.message}`);
    else if (event.kind === 'switched') this.appendLine(`switched ${event.from} → ${event.to}`);
    else if (event.kind === 'stepStarted') this.appendLine(`${event.step}…`);
  }

  /** Stops what runs (the measurement removes its copy on the way out). */
  dispose(): void {
    this.isDisposed = true;
    this.measureController?.abort();
    this.rolloutController?.abort();
    this._onDidChange.dispose();
  }
}

function shortId(imageId: string): string {
  return imageId.replace(/^sha256:/, '').slice(0, 12);
}

function formatMs(ms: number): string {
  return describeMs(ms).replace(/ /g, '');
}

function readComposeImage(text: string | undefined, serviceKey: string | undefined): string | undefined {
  if (!text || !serviceKey) return undefined;
  const read = readCompose(text);
  return read.ok ? read.compose.services.find((s) => s.name === serviceKey)?.image?.raw : undefined;
}

function runView(run: RunProgress): WizardState['measure']['runs'][number] {
  return {
    run: run.run,
    status: run.status,
    probeMs: run.probeMs.map((ms) => Math.round(ms * 10) / 10),
    ...(run.startupMs !== undefined ? { startupMs: Math.round(run.startupMs) } : {}),
    ...(run.memoryKb !== undefined ? { memoryKb: run.memoryKb } : {}),
    ...(run.message ? { message: run.message.slice(0, 3900) } : {}),
  };
}

function containerViewOf(info: Dockerode.ContainerInspectInfo, color: Color | undefined, isLive: boolean | undefined): ContainerView {
  const health = info.State.Health;
  // Docker 20.10 does not count a failure whose probe started within start_period while the container was never healthy.
  const startedAtMs = Date.parse(info.State.StartedAt);
  const startPeriodMs = (info.Config.Healthcheck?.StartPeriod ?? 0) / 1e6;
  const firstOkMs = Math.min(...(health?.Log ?? []).filter((e) => e.ExitCode === 0 && Date.parse(e.Start) >= startedAtMs).map((e) => Date.parse(e.Start)));
  const isExcused = (entry: { Start: string; ExitCode: number }): boolean => {
    const at = Date.parse(entry.Start);
    return entry.ExitCode !== 0 && at >= startedAtMs && at - startedAtMs < startPeriodMs && at < firstOkMs;
  };
  const status = health?.Status;
  const view: ContainerView = {
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    state: info.State.Status,
    health: status === 'healthy' || status === 'unhealthy' || status === 'starting' ? status : 'none',
    failingStreak: health?.FailingStreak ?? 0,
    log: (health?.Log ?? []).slice(-10).map((entry) => ({
      start: entry.Start,
      durationMs: Math.max(0, Math.round(Date.parse(entry.End) - Date.parse(entry.Start))),
      exitCode: entry.ExitCode,
      output: entry.Output.slice(0, 3900),
      ...(isExcused(entry) ? { isExcused: true } : {}),
    })),
  };
  if (info.Config.Healthcheck) view.running = dockerHealthcheckView(info.Config.Healthcheck as DockerHealthConfig, 'what Docker runs for this container now');
  if (color) view.color = color;
  if (isLive !== undefined) view.isLive = isLive;
  return view;
}
