/**
 * The healthcheck wizard's decisions that need no I/O: which service a tree node stands for, how a
 * healthcheck reads in the wizard, which health path and port are measured, what a user's values
 * become in the compose file (the patch, the edited text and its diff).
 */
import { healthcheckUrl, readCompose, setHealthcheck, type ComposeFile, type ComposeHealthcheck, type HealthcheckPatch, type HealthcheckTest } from './composeFile';
import { formatDuration } from './durations';
import { checkTimings, timingFields, type MeasuredFacts, type TimingCheck, type TimingTexts } from './healthAdvisor';
import type { Color, ColorProfile, HostProfile } from './hostProfile';
import { unifiedDiff } from './lineDiff';
import type { HealthcheckView, IssueView, TimingValues } from './protocol';

export type WizardTarget =
  | { kind: 'single'; host: string; service: string; container: string; composeFile: string; port: number; healthPath: string }
  | { kind: 'blueGreen'; host: string; service: string; healthPath: string; colors: Record<Color, ColorProfile> };

/** The service a tree node (service, color or container) belongs to; undefined when it is not one of the profile's. */
export function wizardTargetFor(profile: HostProfile, ref: { service?: string; container?: string }): WizardTarget | undefined {
  const service =
    profile.services.find((s) => ref.service !== undefined && s.name === ref.service) ??
    profile.services.find((s) => (s.kind === 'single' ? s.container === ref.container : s.colors.blue.container === ref.container || s.colors.green.container === ref.container));
  if (!service) return undefined;
  if (service.kind === 'single') {
    return { kind: 'single', host: profile.name, service: service.name, container: service.container, composeFile: service.composeFile, port: service.port, healthPath: service.healthPath };
  }
  return { kind: 'blueGreen', host: profile.name, service: service.name, healthPath: service.healthPath, colors: service.colors };
}

/** A test as one line: `CMD wget -q -O- http://…`, `CMD-SHELL curl -f … || exit 1`. */
export function testLine(test: HealthcheckTest | undefined): string | undefined {
  if (!test) return undefined;
  switch (test.form) {
    case 'CMD':
      return `CMD ${test.argv.join(' ')}`;
    case 'CMD-SHELL':
      return `CMD-SHELL ${test.command}`;
    case 'string':
      return test.command;
    case 'NONE':
      return 'NONE';
  }
}

const originWords: Record<ComposeHealthcheck['origin'], string> = {
  service: 'written under the service',
  alias: 'shared through a YAML alias',
  merge: 'merged from a YAML anchor (<<)',
  extends: 'inherited through "extends"',
};

export function composeHealthcheckView(hc: ComposeHealthcheck): HealthcheckView {
  const view: HealthcheckView = { isDisabled: hc.isDisabled, source: `${originWords[hc.origin]}${hc.mergedAnchors.length > 0 ? ` (*${hc.mergedAnchors.join(', *')})` : ''}` };
  const test = testLine(hc.test);
  if (test !== undefined) view.test = test;
  if (hc.test) view.testForm = hc.test.form;
  if (hc.written.interval !== undefined) view.interval = hc.written.interval;
  if (hc.written.timeout !== undefined) view.timeout = hc.written.timeout;
  if (hc.written.start_period !== undefined) view.startPeriod = hc.written.start_period;
  if (hc.written.start_interval !== undefined) view.startInterval = hc.written.start_interval;
  if (hc.retries !== undefined) view.retries = hc.retries;
  return view;
}

/** Docker's HealthConfig (image or container): durations in nanoseconds, 0 = Docker's default. */
export interface DockerHealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export function dockerTest(test: readonly string[] | undefined): HealthcheckTest | undefined {
  if (!test || test.length === 0) return undefined;
  const [kind, ...rest] = test;
  if (kind === 'NONE') return { form: 'NONE' };
  if (kind === 'CMD') return { form: 'CMD', argv: rest };
  if (kind === 'CMD-SHELL') return { form: 'CMD-SHELL', command: rest.join(' ') };
  return undefined;
}

export function dockerHealthcheckView(hc: DockerHealthConfig, source: string): HealthcheckView {
  const test = dockerTest(hc.Test);
  const view: HealthcheckView = { isDisabled: test?.form === 'NONE', source };
  const line = testLine(test);
  if (line !== undefined) view.test = line;
  if (test) view.testForm = test.form;
  const ms = (ns: number | undefined): string | undefined => (ns ? formatDuration(ns / 1e6) : undefined);
  const interval = ms(hc.Interval);
  const timeout = ms(hc.Timeout);
  const startPeriod = ms(hc.StartPeriod);
  const startInterval = ms(hc.StartInterval);
  if (interval) view.interval = interval;
  if (timeout) view.timeout = timeout;
  if (startPeriod) view.startPeriod = startPeriod;
  if (startInterval) view.startInterval = startInterval;
  if (hc.Retries) view.retries = hc.Retries;
  return view;
}

/** The compose service of a container: its `container_name`, then the compose label, then the only service. */
export function serviceKeyFor(compose: ComposeFile, container: string, labelService: string | undefined): string | undefined {
  return (
    compose.services.find((s) => s.containerName === container)?.name ??
    compose.services.find((s) => s.name === labelService)?.name ??
    (compose.services.length === 1 ? compose.services[0].name : undefined)
  );
}

/** The path a healthcheck probes (from its URL), else the profile's health path. */
export function healthPathOf(test: HealthcheckTest | undefined, profilePath: string): string {
  return healthcheckUrl(test)?.path ?? profilePath;
}

/** A test for a service that has none: the user confirms (or edits) it; wget is in busybox and most slim images. */
export function proposedTestCommand(port: number, healthPath: string): string {
  return `wget -q -O- http://127.0.0.1:${port}${healthPath} || exit 1`;
}

/** The current values of a healthcheck as the form's starting point (Docker's defaults for what is missing). */
export function valuesOf(hc: HealthcheckView | undefined): TimingValues {
  return {
    interval: hc?.interval ?? '30s',
    timeout: hc?.timeout ?? '30s',
    retries: String(hc?.retries ?? 3),
    start_period: hc?.startPeriod ?? '0s',
  };
}

export interface ValuesCheck extends TimingCheck {
  issueViews: IssueView[];
  hasErrors: boolean;
}

/** Checks the form's values, and the test command when one must be confirmed. */
export function checkValues(values: TimingValues, facts: MeasuredFacts, needsTest: boolean): ValuesCheck {
  const texts: TimingTexts = { interval: values.interval, timeout: values.timeout, retries: values.retries, start_period: values.start_period };
  const check = checkTimings(texts, facts);
  const issues: IssueView[] = check.issues.map((issue) => ({ field: issue.field, severity: issue.severity, message: issue.message }));
  if (needsTest) {
    const test = values.test?.trim() ?? '';
    if (test === '') issues.push({ field: 'test', severity: 'error', message: 'The service has no healthcheck: confirm the command Docker should run, e.g. a wget of its health path.' });
    else if (/[\n\r]/.test(test)) issues.push({ field: 'test', severity: 'error', message: 'Write the command on one line.' });
  }
  return { ...check, issueViews: issues, hasErrors: issues.some((issue) => issue.severity === 'error') };
}

export function patchOf(values: TimingValues, needsTest: boolean): HealthcheckPatch {
  const patch: HealthcheckPatch = { interval: values.interval.trim(), timeout: values.timeout.trim(), retries: Number(values.retries.trim()), start_period: values.start_period.trim() };
  if (needsTest && values.test?.trim()) patch.test = { form: 'CMD-SHELL', command: values.test.trim() };
  return patch;
}

export type FileEdit = { ok: true; path: string; readText: string; newText: string; diff: string; notes: string[] } | { ok: false; path: string; error: string };

/** The edited compose text for one file, with its diff; every byte outside the healthcheck's keys is kept. */
export function editComposeFile(path: string, readText: string, serviceKey: string, patch: HealthcheckPatch): FileEdit {
  const fileName = path.slice(path.lastIndexOf('/') + 1);
  const edit = setHealthcheck(readText, serviceKey, patch, fileName);
  if (!edit.ok) return { ok: false, path, error: edit.error };
  // The edit re-reads itself; this also catches a file Compose would no longer accept.
  const reread = readCompose(edit.text, fileName);
  if (!reread.ok) return { ok: false, path, error: `The edited ${fileName} would not be valid: ${reread.error}` };
  return { ok: true, path, readText, newText: edit.text, diff: unifiedDiff(readText, edit.text, { oldName: `a${path}`, newName: `b${path}` }), notes: edit.notes };
}

export { timingFields };
