/**
 * The healthcheck advisor: from measured startups and probe durations, recommends Docker healthcheck
 * timings with the reason for each, says how long a failure takes to be noticed, and checks timings a
 * user typed. Docker's behaviour is modelled after engine 20.10 (`daemon/health.go`): probes run on a
 * ticker of `interval` from the container's start (no `start_interval`), one at a time; a failure
 * whose probe *started* within `start_period` does not count while the container has never been
 * healthy; `retries` counted failures in a row make it unhealthy; one success makes it healthy.
 */
import { formatDuration, parseDuration } from './durations';

// ---------------------------------------------------------------------------------------------
// Inputs

/** One start of the app, measured on the host. */
export interface MeasuredRun {
  /** From the start of the container to the first 2xx/3xx answer of the health path; absent when it never answered. */
  startupMs?: number;
  /** Durations of health probes once the app answers (steady state). */
  probeMs: number[];
  /** Memory the container uses at rest, once started (docker stats). */
  memoryKb?: number;
  /** Why there is no startup time (deadline passed, container exited, ...). */
  failure?: string;
}

export interface HealthMeasurements {
  runs: MeasuredRun[];
  /**
   * Durations of Docker's own probes of the running container (the process Docker starts in the
   * container, plus the command), steady state only: slower than a probe from outside.
   */
  dockerProbeMs?: number[];
  /** How long each run waited for a first answer. */
  deadlineMs: number;
}

export interface AdvisorOptions {
  /** A container that stops answering should be reported unhealthy within this long. Default 60 s. */
  detectWithinMs?: number;
}

/** Timings in numbers: what Docker uses. */
export interface Timings {
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export type TimingField = 'interval' | 'timeout' | 'retries' | 'start_period';
export const timingFields: readonly TimingField[] = ['interval', 'timeout', 'retries', 'start_period'];

/** The fields as the user types them (Compose durations, retries as text). */
export type TimingTexts = Record<TimingField, string>;

export interface FieldAdvice {
  /** As it is written into the compose file, e.g. `23s`. */
  value: string;
  /** One line: the rule and the numbers that gave the value. */
  reason: string;
}

export interface Outlook {
  /** From the container's start until Docker reports `healthy`, for the slowest measured startup. */
  healthyAfterMs?: number;
  /** Would Docker mark it unhealthy while it is still starting (slowest startup)? Then when. */
  unhealthyDuringStartupAtMs?: number;
  /** A deploy whose app never answers: from its start until Docker reports `unhealthy`. */
  brokenDeployDetectedMs: number;
  /** A running container that stops answering: worst case until Docker reports `unhealthy`. */
  failureDetectedMs: number;
}

export interface Recommendation {
  timings: Timings;
  fields: Record<TimingField, FieldAdvice>;
  outlook: Outlook;
  /** Short sentences for the summary under the fields (worst cases, comparisons). */
  summary: string[];
  /** What the measurements leave uncertain (runs that never answered, few samples). */
  warnings: string[];
  slowestStartupMs: number;
  slowestProbeMs: number;
  maxMemoryKb?: number;
}

export type Advice = { ok: true; recommendation: Recommendation } | { ok: false; reason: string };

// ---------------------------------------------------------------------------------------------
// Rules (each used in one place below, and named in the reasons)

export const startPeriodFactor = 1.5;
export const timeoutFactor = 3;
/** Docker starts a process in the container for each probe; less than a second is asking for flaky probes. */
export const minTimeoutMs = 1000;
/** Intervals people can read at a glance; the longest one that is at most a third of the startup. */
const intervalLadderMs = [5_000, 10_000, 15_000, 20_000] as const;
const intervalStartupShare = 3;
export const defaultRetries = 3;
export const defaultDetectWithinMs = 60_000;

const second = 1000;

function ceilTo(valueMs: number, stepMs: number): number {
  return Math.ceil(valueMs / stepMs - 1e-9) * stepMs;
}

/** `15.2 s`, `420 ms`, `1 min 30 s`: for sentences (the field values use Compose's format). */
export function describeMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

// ---------------------------------------------------------------------------------------------
// Docker's healthcheck, simulated

export interface SimulationInput {
  timings: Timings;
  /** When the health path first answers; Infinity for an app that never does. */
  readyAtMs: number;
  /** How long a probe takes once the app answers. */
  probeMs: number;
  /**
   * Before the app is ready, a probe either waits for it (an endpoint that blocks until the models are
   * loaded, like handDoc's) or fails at once (connection refused). Both fail the same probes; only
   * the end times differ. Default: blocks.
   */
  isBlockingBeforeReady?: boolean;
}

export interface SimulationResult {
  healthyAtMs?: number;
  unhealthyAtMs?: number;
  /** Probes run until the outcome, with their start, end and whether they counted. */
  probes: Array<{ startMs: number; endMs: number; ok: boolean; counted: boolean }>;
}

/**
 * Runs Docker 20.10's health monitor on a model of the app: the ticker fires every `interval` from
 * the start; a probe runs to its end (at most `timeout`); a tick that passed meanwhile is kept (Go's
 * ticker channel holds one), so the next probe starts right away, else at the next tick.
 */
export function simulateHealthcheck(input: SimulationInput): SimulationResult {
  const { intervalMs, timeoutMs, retries, startPeriodMs } = input.timings;
  const isBlocking = input.isBlockingBeforeReady ?? true;
  const probes: SimulationResult['probes'] = [];
  let startMs = intervalMs;
  let streak = 0;
  for (let i = 0; i < 10_000; i++) {
    let endMs: number;
    let ok: boolean;
    if (startMs >= input.readyAtMs) {
      ok = input.probeMs <= timeoutMs;
      endMs = startMs + Math.min(input.probeMs, timeoutMs);
    } else if (isBlocking && input.readyAtMs + input.probeMs - startMs <= timeoutMs) {
      ok = true;
      endMs = input.readyAtMs + input.probeMs;
    } else {
      ok = false;
      endMs = isBlocking ? startMs + timeoutMs : startMs;
    }
    const counted = !ok && !(startMs < startPeriodMs);
    probes.push({ startMs, endMs, ok, counted });
    if (ok) return { healthyAtMs: endMs, probes };
    if (counted) {
      streak++;
      if (streak >= retries) return { unhealthyAtMs: endMs, probes };
    }
    // Next tick after this probe's start; if it passed while the probe ran, it fires at the probe's end.
    const nextTick = (Math.floor(startMs / intervalMs + 1e-9) + 1) * intervalMs;
    startMs = nextTick <= endMs ? endMs : nextTick;
  }
  return { probes };
}

/**
 * Worst case for a running container whose app stops answering right after a probe started: the
 * next probe starts within one interval, then `retries` probes fail one after the other, each after
 * its timeout (a probe that hangs longer than `interval` delays the next one).
 */
export function failureDetectionMs(timings: Timings): number {
  const cycleMs = Math.max(timings.intervalMs, timings.timeoutMs);
  return timings.intervalMs + (timings.retries - 1) * cycleMs + timings.timeoutMs;
}

export function outlookOf(timings: Timings, slowestStartupMs: number | undefined, slowestProbeMs: number): Outlook {
  const broken = simulateHealthcheck({ timings, readyAtMs: Infinity, probeMs: slowestProbeMs });
  const outlook: Outlook = {
    brokenDeployDetectedMs: broken.unhealthyAtMs ?? Infinity,
    failureDetectedMs: failureDetectionMs(timings),
  };
  if (slowestStartupMs !== undefined) {
    const start = simulateHealthcheck({ timings, readyAtMs: slowestStartupMs, probeMs: slowestProbeMs });
    if (start.healthyAtMs !== undefined) outlook.healthyAfterMs = start.healthyAtMs;
    if (start.unhealthyAtMs !== undefined) {
      outlook.unhealthyDuringStartupAtMs = start.unhealthyAtMs;
      // Docker keeps probing an unhealthy container: the first success later still makes it healthy.
      const later = simulateHealthcheck({ timings: { ...timings, retries: Number.MAX_SAFE_INTEGER }, readyAtMs: slowestStartupMs, probeMs: slowestProbeMs });
      if (later.healthyAtMs !== undefined) outlook.healthyAfterMs = later.healthyAtMs;
    }
  }
  return outlook;
}

// ---------------------------------------------------------------------------------------------
// Recommendation

function maxOf(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => Math.max(a, b), -Infinity);
}

/** Recommends timings from measurements; refuses (with the reason) when no run ever got an answer. */
export function recommendTimings(measurements: HealthMeasurements, options: AdvisorOptions = {}): Advice {
  const detectWithinMs = options.detectWithinMs ?? defaultDetectWithinMs;
  const { runs } = measurements;
  if (runs.length === 0) return { ok: false, reason: 'Nothing was measured yet: run the measurement first.' };
  const startups = runs.map((r) => r.startupMs).filter((v): v is number => v !== undefined && Number.isFinite(v) && v >= 0);
  const failed = runs.map((run, i) => ({ run, number: i + 1 })).filter(({ run }) => run.startupMs === undefined);
  if (startups.length === 0) {
    const why = failed[0]?.run.failure ?? `no answer within ${describeMs(measurements.deadlineMs)}`;
    return {
      ok: false,
      reason: `The health path never answered in ${runs.length === 1 ? 'the run' : `any of the ${runs.length} runs`} (${why}). No timing makes that healthy: check the health path and the app's log, or raise the measurement deadline.`,
    };
  }
  const warnings: string[] = [];
  for (const { run, number } of failed) {
    warnings.push(`Run ${number} never got an answer (${run.failure ?? `deadline ${describeMs(measurements.deadlineMs)}`}); the timings below only cover the runs that did.`);
  }
  if (startups.length < 3) warnings.push(`Only ${startups.length} successful run${startups.length === 1 ? '' : 's'}: startup times vary, more runs give a safer start_period.`);

  const slowestStartupMs = maxOf(startups) as number;
  const ownProbes = runs.flatMap((r) => r.probeMs).filter((v) => Number.isFinite(v) && v >= 0);
  const dockerProbes = (measurements.dockerProbeMs ?? []).filter((v) => Number.isFinite(v) && v >= 0);
  const probeSamples = [...ownProbes, ...dockerProbes];
  const slowestProbeMs = maxOf(probeSamples) ?? 0;
  if (probeSamples.length === 0) warnings.push('No probe duration was measured once the app answered; the timeout uses its minimum of 1s.');
  const probeSource =
    dockerProbes.length > 0 && (maxOf(dockerProbes) as number) >= (maxOf(ownProbes) ?? 0) ? "Docker's own probe" : 'probe';

  // start_period: failures while loading must not count, with room for a slower start than measured.
  const startPeriodMs = Math.max(second, ceilTo(slowestStartupMs * startPeriodFactor, second));
  // timeout: a healthy app must never fail a probe for being a bit slow.
  const rawTimeoutMs = slowestProbeMs * timeoutFactor;
  const timeoutMs = Math.max(minTimeoutMs, ceilTo(rawTimeoutMs, second));
  // interval: Docker reports healthy at the first probe after the app answers.
  const target = slowestStartupMs / intervalStartupShare;
  let intervalMs: number = intervalLadderMs[0];
  for (const step of intervalLadderMs) if (step <= target) intervalMs = step;
  const isIntervalRaised = intervalMs < timeoutMs;
  if (isIntervalRaised) intervalMs = ceilTo(timeoutMs, 5 * second);
  // retries: ride out one or two slow probes, but notice a real failure within detectWithinMs.
  let retries = defaultRetries;
  while (retries > 1 && failureDetectionMs({ intervalMs, timeoutMs, retries, startPeriodMs }) > detectWithinMs) retries--;
  const timings: Timings = { intervalMs, timeoutMs, retries, startPeriodMs };
  const detectMs = failureDetectionMs(timings);
  if (detectMs > detectWithinMs) warnings.push(`Even with 1 retry a failure takes ${describeMs(detectMs)} to be noticed, longer than the ${describeMs(detectWithinMs)} aimed for: the probe itself is slow.`);

  const fields: Record<TimingField, FieldAdvice> = {
    start_period: {
      value: formatDuration(startPeriodMs),
      reason: `slowest startup ${describeMs(slowestStartupMs)} × ${startPeriodFactor} = ${describeMs(slowestStartupMs * startPeriodFactor)}, rounded up: failures while it loads do not count.`,
    },
    timeout: {
      value: formatDuration(timeoutMs),
      reason:
        rawTimeoutMs < minTimeoutMs
          ? `slowest ${probeSource} ${describeMs(slowestProbeMs)} × ${timeoutFactor} = ${describeMs(rawTimeoutMs)}, raised to the 1s minimum (Docker starts a process for each probe).`
          : `slowest ${probeSource} ${describeMs(slowestProbeMs)} × ${timeoutFactor} = ${describeMs(rawTimeoutMs)}, rounded up: a slow but healthy answer still passes.`,
    },
    interval: {
      value: formatDuration(intervalMs),
      reason: isIntervalRaised
        ? `raised to cover the timeout (${formatDuration(timeoutMs)}), so probes do not pile up; Switchyard's own probe still switches as soon as the app answers.`
        : `Docker says healthy at most ${formatDuration(intervalMs)} after the app answers (≤ slowest startup ÷ ${intervalStartupShare}); Switchyard's own probe switches as soon as it answers, so this only delays Docker's status.`,
    },
    retries: {
      value: String(retries),
      reason:
        retries === defaultRetries
          ? `${retries} failed probes in a row: a real failure is reported within ${describeMs(detectMs)} (aim: ${describeMs(detectWithinMs)}), one slow probe alone does not flip it.`
          : `${retries} so a real failure is reported within ${describeMs(detectMs)} (aim: ${describeMs(detectWithinMs)}).`,
    },
  };
  const outlook = outlookOf(timings, slowestStartupMs, slowestProbeMs);
  const summary = outlookSentences(outlook);
  const memories = runs.map((r) => r.memoryKb).filter((v): v is number => v !== undefined);
  const maxMemoryKb = maxOf(memories);
  if (maxMemoryKb !== undefined) summary.push(`Memory at rest: ${(maxMemoryKb / 1024).toFixed(maxMemoryKb < 10 * 1024 ? 1 : 0)} MiB (highest of ${memories.length} run${memories.length === 1 ? '' : 's'}); a Blue-Green switch runs two copies for a moment.`);
  return {
    ok: true,
    recommendation: { timings, fields, outlook, summary, warnings, slowestStartupMs, slowestProbeMs, ...(maxMemoryKb !== undefined ? { maxMemoryKb } : {}) },
  };
}

export function outlookSentences(outlook: Outlook): string[] {
  const lines: string[] = [];
  if (outlook.unhealthyDuringStartupAtMs !== undefined) {
    lines.push(`Docker would mark it UNHEALTHY ${describeMs(outlook.unhealthyDuringStartupAtMs)} after start, while it is still loading.`);
  }
  if (outlook.healthyAfterMs !== undefined) lines.push(`Docker reports healthy about ${describeMs(outlook.healthyAfterMs)} after start (slowest measured startup).`);
  lines.push(`Worst case until a broken deploy is reported unhealthy: ${describeMs(outlook.brokenDeployDetectedMs)} after its start.`);
  lines.push(`A running container that stops answering is reported unhealthy within ${describeMs(outlook.failureDetectedMs)}.`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Validation of what the user typed

export type IssueSeverity = 'error' | 'warning';

export interface TimingIssue {
  field: TimingField | 'test' | 'general';
  severity: IssueSeverity;
  message: string;
}

export interface TimingCheck {
  /** The parsed timings, when every field is valid. */
  timings?: Timings;
  issues: TimingIssue[];
  /** What these timings would do (needs valid timings). */
  outlook?: Outlook;
}

export interface MeasuredFacts {
  slowestStartupMs?: number;
  slowestProbeMs?: number;
}

function checkDuration(field: Exclude<TimingField, 'retries'>, text: string, issues: TimingIssue[]): number | undefined {
  const error = (message: string): undefined => {
    issues.push({ field, severity: 'error', message });
    return undefined;
  };
  if (text !== text.trim()) return error(`write it without spaces around it ("${text.trim()}").`);
  if (text === '') return error(field === 'start_period' ? 'empty: write "0s" for no start period.' : 'empty: write a duration with a unit, e.g. "10s".');
  const parsed = parseDuration(text);
  if (!parsed.ok) return error(parsed.message);
  const valueMs = parsed.valueMs;
  if (field !== 'start_period' && valueMs === 0) {
    return error(`0 does not turn it off: Docker then uses its default (30s). Write the ${field} you want, e.g. "${field === 'interval' ? '10s' : '3s'}".`);
  }
  // Docker refuses these when the container is created ("Interval in Healthcheck cannot be less than 1ms").
  if (valueMs > 0 && valueMs < 1) return error(`Docker refuses a ${field} shorter than 1ms (got ${text}).`);
  return valueMs;
}

function checkRetries(text: string, issues: TimingIssue[]): number | undefined {
  const error = (message: string): undefined => {
    issues.push({ field: 'retries', severity: 'error', message });
    return undefined;
  };
  const trimmed = text.trim();
  if (trimmed === '') return error('empty: write how many failed probes in a row make it unhealthy, e.g. 3.');
  if (!/^[+]?\d+$/.test(trimmed)) {
    if (/^\d+\.\d+$/.test(trimmed)) return error(`a whole number of probes, not ${trimmed}.`);
    if (/^\d+\s*[a-zµμ]+$/i.test(trimmed)) return error(`retries is a count of probes, not a duration: write ${trimmed.replace(/\D.*$/, '')}.`);
    if (trimmed.startsWith('-')) return error('cannot be negative.');
    return error(`"${trimmed}" is not a whole number.`);
  }
  const value = Number(trimmed);
  if (value === 0) return error('0 does not mean "never": Docker then uses its default of 3. Write 1 or more.');
  if (!Number.isSafeInteger(value) || value > 1000) return error(`${trimmed} failed probes in a row would never be reached in practice; use a small number like 3.`);
  return value;
}

/** Checks timings a user typed; errors block writing them, warnings explain a risk. */
export function checkTimings(texts: TimingTexts, facts: MeasuredFacts = {}): TimingCheck {
  const issues: TimingIssue[] = [];
  const intervalMs = checkDuration('interval', texts.interval, issues);
  const timeoutMs = checkDuration('timeout', texts.timeout, issues);
  const startPeriodMs = checkDuration('start_period', texts.start_period, issues);
  const retries = checkRetries(texts.retries, issues);
  if (intervalMs === undefined || timeoutMs === undefined || startPeriodMs === undefined || retries === undefined) return { issues };
  const timings: Timings = { intervalMs, timeoutMs, retries, startPeriodMs };

  if (timeoutMs > intervalMs) {
    issues.push({
      field: 'timeout',
      severity: 'error',
      message: `longer than the interval (${texts.timeout} > ${texts.interval}): a hanging probe holds up the next one, so Docker probes every ${texts.timeout}, not every ${texts.interval}. Make the interval at least as long as the timeout.`,
    });
  }
  const { slowestStartupMs, slowestProbeMs } = facts;
  if (slowestProbeMs !== undefined && slowestProbeMs > 0) {
    if (timeoutMs < slowestProbeMs) {
      issues.push({ field: 'timeout', severity: 'error', message: `shorter than the slowest measured probe (${describeMs(slowestProbeMs)}): a healthy app would fail its probes. This is how handDoc's server ended up unhealthy.` });
    } else if (timeoutMs < slowestProbeMs * timeoutFactor) {
      issues.push({ field: 'timeout', severity: 'warning', message: `less than ${timeoutFactor}× the slowest measured probe (${describeMs(slowestProbeMs)}): a busy moment can fail a probe of a healthy app.` });
    }
  }
  const outlook = outlookOf(timings, slowestStartupMs, slowestProbeMs ?? 0);
  if (slowestStartupMs !== undefined) {
    if (outlook.unhealthyDuringStartupAtMs !== undefined) {
      issues.push({
        field: 'start_period',
        severity: 'error',
        message: `Docker would mark it unhealthy ${describeMs(outlook.unhealthyDuringStartupAtMs)} after start, before its slowest measured startup (${describeMs(slowestStartupMs)}) ends. Raise start_period to at least ${formatDuration(ceilTo(slowestStartupMs * startPeriodFactor, second))}.`,
      });
    } else if (startPeriodMs < slowestStartupMs) {
      issues.push({
        field: 'start_period',
        severity: 'warning',
        message: `shorter than the slowest measured startup (${describeMs(slowestStartupMs)}): failed probes while it loads count towards unhealthy; only the retries keep it from flipping.`,
      });
    } else if (startPeriodMs < slowestStartupMs * startPeriodFactor) {
      issues.push({ field: 'start_period', severity: 'warning', message: `leaves little room over the slowest measured startup (${describeMs(slowestStartupMs)}); ${startPeriodFactor}× gives a margin for a slower start.` });
    }
  }
  if (retries === 1) issues.push({ field: 'retries', severity: 'warning', message: 'a single slow probe marks the container unhealthy.' });
  if (intervalMs < second) issues.push({ field: 'interval', severity: 'warning', message: 'more than one probe a second costs CPU on a small host for no gain.' });
  if (intervalMs > 5 * 60_000) issues.push({ field: 'interval', severity: 'warning', message: `Docker first probes ${texts.interval} after the start: a deploy waiting for "healthy" waits that long.` });
  return { timings, issues, outlook };
}

/** The timings as the compose file writes them. */
export function timingTexts(timings: Timings): TimingTexts {
  return {
    interval: formatDuration(timings.intervalMs),
    timeout: formatDuration(timings.timeoutMs),
    retries: String(timings.retries),
    start_period: formatDuration(timings.startPeriodMs),
  };
}
