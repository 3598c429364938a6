/**
 * The healthcheck wizard's messages between the extension and its webview: one typed union each way,
 * each with a validator. Both sides import this file (the webview bundle imports nothing else from
 * src/), and both treat what arrives as untrusted: `parseWebviewMessage` / `parseHostMessage` check
 * every field, refuse unknown types and unknown keys, and bound every string and list.
 *
 * The extension owns the wizard's state and sends all of it (`state`) after `ready` and after every
 * change; the webview sends intents. So a webview that was hidden, reloaded or reopened only needs `ready`.
 */

// ---------------------------------------------------------------------------------------------
// A small schema library: a schema validates and gives the TypeScript type of what it accepts.

export class ProtocolError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

export interface Schema<T> {
  parse(value: unknown, path: string): T;
  readonly isOptional?: boolean;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S> = { [K in keyof S]: S[K] extends { readonly isOptional: true } ? K : never }[keyof S];
type ShapeType<S extends Record<string, Schema<unknown>>> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined> }
>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'string' ? `a string of ${value.length} characters` : typeof value;
}

export function str(options: { max?: number; min?: number; pattern?: RegExp } = {}): Schema<string> {
  const max = options.max ?? 2000;
  return {
    parse(value, path) {
      if (typeof value !== 'string') throw new ProtocolError(path, `expected a string, got ${describe(value)}`);
      if (value.length > max) throw new ProtocolError(path, `longer than ${max} characters`);
      if (options.min !== undefined && value.length < options.min) throw new ProtocolError(path, `shorter than ${options.min} characters`);
      if (options.pattern && !options.pattern.test(value)) throw new ProtocolError(path, `does not match ${options.pattern}`);
      return value;
    },
  };
}

export function num(options: { min?: number; max?: number; isInteger?: boolean } = {}): Schema<number> {
  return {
    parse(value, path) {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new ProtocolError(path, `expected a finite number, got ${describe(value)}`);
      if (options.isInteger && !Number.isInteger(value)) throw new ProtocolError(path, 'expected a whole number');
      if (options.min !== undefined && value < options.min) throw new ProtocolError(path, `less than ${options.min}`);
      if (options.max !== undefined && value > options.max) throw new ProtocolError(path, `more than ${options.max}`);
      return value;
    },
  };
}

export const bool: Schema<boolean> = {
  parse(value, path) {
    if (typeof value !== 'boolean') throw new ProtocolError(path, `expected true or false, got ${describe(value)}`);
    return value;
  },
};

export function lit<const L extends readonly string[]>(...values: L): Schema<L[number]> {
  return {
    parse(value, path) {
      if (typeof value !== 'string' || !values.includes(value)) throw new ProtocolError(path, `expected one of ${values.join(', ')}`);
      return value as L[number];
    },
  };
}

export function arr<T>(item: Schema<T>, max = 200): Schema<T[]> {
  return {
    parse(value, path) {
      if (!Array.isArray(value)) throw new ProtocolError(path, `expected a list, got ${describe(value)}`);
      if (value.length > max) throw new ProtocolError(path, `more than ${max} items`);
      return value.map((entry, i) => item.parse(entry, `${path}[${i}]`));
    },
  };
}

export function opt<T>(schema: Schema<T>): Schema<T | undefined> & { readonly isOptional: true } {
  return {
    isOptional: true,
    parse(value, path) {
      return value === undefined ? undefined : schema.parse(value, path);
    },
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** An object with exactly these keys (optional ones may be missing); any other key is refused. */
export function obj<S extends Record<string, Schema<unknown>>>(shape: S): Schema<ShapeType<S>> {
  return {
    parse(value, path) {
      if (!isPlainObject(value)) throw new ProtocolError(path, `expected an object, got ${describe(value)}`);
      for (const key of Object.keys(value)) {
        if (!Object.prototype.hasOwnProperty.call(shape, key)) throw new ProtocolError(`${path}.${key}`, 'unknown key');
      }
      const out: Record<string, unknown> = {};
      for (const [key, schema] of Object.entries(shape)) {
        const has = Object.prototype.hasOwnProperty.call(value, key);
        if (!has && !schema.isOptional) throw new ProtocolError(`${path}.${key}`, 'is required');
        const parsed = schema.parse(has ? value[key] : undefined, `${path}.${key}`);
        if (parsed !== undefined) out[key] = parsed;
      }
      return out as ShapeType<S>;
    },
  };
}

/** A union tagged by `type`: `{ type: 'a', ...shapeA } | { type: 'b', ...shapeB }`. */
export function tagged<M extends Record<string, Record<string, Schema<unknown>>>>(
  variants: M,
): Schema<{ [K in keyof M & string]: Simplify<{ type: K } & ShapeType<M[K]>> }[keyof M & string]> {
  return {
    parse(value, path) {
      if (!isPlainObject(value)) throw new ProtocolError(path, `expected a message object, got ${describe(value)}`);
      const type = value.type;
      if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(variants, type)) {
        throw new ProtocolError(`${path}.type`, `unknown message type ${JSON.stringify(type)?.slice(0, 60) ?? 'undefined'}`);
      }
      const rest: Record<string, unknown> = { ...value };
      delete rest.type;
      const body = obj(variants[type]).parse(rest, path) as Record<string, unknown>;
      return { type, ...body } as never;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The wizard's state, as the webview shows it

const name = str({ max: 200 });
const line = str({ max: 4000 });
const duration = str({ max: 40 });
const color = lit('blue', 'green');

export const stepIds = ['current', 'measure', 'recommend', 'apply'] as const;
export type StepId = (typeof stepIds)[number];

const healthcheckView = obj({
  /** The test as one line, e.g. `CMD wget -q -O- http://127.0.0.1:8000/health`. */
  test: opt(line),
  testForm: opt(lit('CMD', 'CMD-SHELL', 'string', 'NONE')),
  interval: opt(duration),
  timeout: opt(duration),
  retries: opt(num({ min: 0, max: 1_000_000, isInteger: true })),
  startPeriod: opt(duration),
  startInterval: opt(duration),
  isDisabled: bool,
  /** Where it comes from, in words: "written under the service", "merged from *hc", "the image's HEALTHCHECK". */
  source: line,
});
export type HealthcheckView = Infer<typeof healthcheckView>;

const composeFileView = obj({
  path: str({ max: 1000 }),
  color: opt(color),
  /** The compose service key of the container in that file. */
  serviceKey: opt(name),
  healthcheck: opt(healthcheckView),
  problems: arr(line, 50),
  error: opt(line),
});
export type ComposeFileView = Infer<typeof composeFileView>;

const healthLogEntryView = obj({
  start: str({ max: 60 }),
  durationMs: num({ min: 0 }),
  exitCode: num({ isInteger: true, min: -1_000_000, max: 1_000_000 }),
  output: str({ max: 4000 }),
  /** A failure Docker did not count: the probe started within start_period, before the first success. */
  isExcused: opt(bool),
});
export type HealthLogEntryView = Infer<typeof healthLogEntryView>;

const containerView = obj({
  name,
  color: opt(color),
  isLive: opt(bool),
  image: str({ max: 500 }),
  state: name,
  health: lit('healthy', 'unhealthy', 'starting', 'none'),
  failingStreak: num({ min: 0, isInteger: true }),
  log: arr(healthLogEntryView, 20),
  /** What Docker runs for this container now (compose, or the image's). */
  running: opt(healthcheckView),
});
export type ContainerView = Infer<typeof containerView>;

const currentView = obj({
  files: arr(composeFileView, 2),
  image: obj({ ref: str({ max: 500 }), healthcheck: opt(healthcheckView), error: opt(line) }),
  containers: arr(containerView, 2),
  /** The health path measured and, when there is no healthcheck, proposed. */
  healthPath: str({ max: 500 }),
  port: num({ min: 1, max: 65535, isInteger: true }),
  notes: arr(line, 20),
});
export type CurrentView = Infer<typeof currentView>;

const runStatus = lit('waiting', 'starting', 'probing', 'done', 'timedOut', 'failed', 'cancelled');
const measureRunView = obj({
  run: num({ min: 1, max: 100, isInteger: true }),
  status: runStatus,
  startupMs: opt(num({ min: 0 })),
  probeMs: arr(num({ min: 0 }), 100),
  memoryKb: opt(num({ min: 0 })),
  message: opt(line),
});
export type MeasureRunView = Infer<typeof measureRunView>;

const measureView = obj({
  status: lit('idle', 'running', 'done', 'failed', 'cancelled'),
  runsPlanned: num({ min: 1, max: 20, isInteger: true }),
  deadlineMs: num({ min: 1000 }),
  /** How it is measured, e.g. "a throwaway copy of handdoc-fastapi on 127.0.0.1:20113 (PORT=20113)". */
  method: opt(line),
  /** Set when measuring needs the user's yes (restarting a container that serves traffic): the question. */
  consentQuestion: opt(line),
  runs: arr(measureRunView, 20),
  /** Durations of Docker's own probes of the running container, steady state. */
  dockerProbeMs: arr(num({ min: 0 }), 50),
  error: opt(line),
});
export type MeasureView = Infer<typeof measureView>;

export type TimingFieldId = 'interval' | 'timeout' | 'retries' | 'start_period';

const fieldAdvice = obj({ value: duration, reason: line });
const recommendationView = obj({
  interval: fieldAdvice,
  timeout: fieldAdvice,
  retries: fieldAdvice,
  start_period: fieldAdvice,
  summary: arr(line, 20),
  warnings: arr(line, 20),
});
export type RecommendationView = Infer<typeof recommendationView>;

const timingValues = obj({
  interval: duration,
  timeout: duration,
  retries: str({ max: 20 }),
  start_period: duration,
  /** Only when the service has no healthcheck yet: the shell command the user confirmed. */
  test: opt(str({ max: 1000 })),
});
export type TimingValues = Infer<typeof timingValues>;

const issueView = obj({
  field: lit('interval', 'timeout', 'retries', 'start_period', 'test', 'general'),
  severity: lit('error', 'warning'),
  message: line,
});
export type IssueView = Infer<typeof issueView>;

const editView = obj({
  values: timingValues,
  issues: arr(issueView, 30),
  /** What these values would do: time to healthy, worst cases. */
  outlook: arr(line, 10),
  /** No healthcheck exists: the user must confirm a test command (with the health path). */
  needsTest: bool,
  /** Bumped by the extension when it replaces the values (e.g. "use recommendation"), so the form reloads them. */
  revision: num({ min: 0, isInteger: true }),
});
export type EditView = Infer<typeof editView>;

const fileDiff = obj({ path: str({ max: 1000 }), diff: str({ max: 400_000 }), notes: arr(line, 20) });
export type FileDiff = Infer<typeof fileDiff>;

const applyView = obj({
  status: lit('idle', 'previewed', 'writing', 'written', 'refused', 'failed'),
  diffs: arr(fileDiff, 2),
  message: opt(line),
  backups: arr(obj({ path: str({ max: 1000 }), backupPath: str({ max: 1000 }) }), 2),
  /** The file changed on the host since it was read: what changed (read → now). */
  changedOnHost: opt(fileDiff),
});
export type ApplyView = Infer<typeof applyView>;

const rolloutView = obj({
  status: lit('idle', 'running', 'done', 'failed', 'cancelled'),
  /** What "Roll out" does for this service, in words. */
  plan: line,
  kind: lit('recreate', 'blueGreen', 'none'),
  lines: arr(line, 300),
  healthyAfterMs: opt(num({ min: 0 })),
  message: opt(line),
  /** What is left to do by hand, when something is. */
  nextStep: opt(line),
});
export type RolloutView = Infer<typeof rolloutView>;

const wizardState = obj({
  host: name,
  service: name,
  kind: lit('single', 'blueGreen'),
  /** Bumped at every change; the webview ignores an older state arriving late. */
  version: num({ min: 0, isInteger: true }),
  /** Work in progress, e.g. "Reading the compose files…". */
  busy: opt(line),
  error: opt(line),
  current: opt(currentView),
  measure: measureView,
  recommendation: opt(recommendationView),
  /** Why there is no recommendation yet / any more. */
  recommendationProblem: opt(line),
  edit: opt(editView),
  apply: applyView,
  rollout: rolloutView,
});
export type WizardState = Infer<typeof wizardState>;

// ---------------------------------------------------------------------------------------------
// Messages

export const webviewMessage = tagged({
  /** The webview is loaded and listening: send it the state. */
  ready: {},
  /** Read the compose files, the image and the health logs again. */
  reload: {},
  measure: { runs: num({ min: 1, max: 10, isInteger: true }), allowRestart: opt(bool) },
  /** The answer "no" to the consent question: the live container is not restarted, nothing is measured. */
  declineRestart: {},
  cancelMeasure: {},
  /** The user edited the fields: check them. */
  edit: { values: timingValues },
  /** Put the recommended values back into the fields. */
  useRecommendation: {},
  /** Compute the diff of the compose file(s) for these values. */
  preview: { values: timingValues },
  /** Write the previewed change (refused when the file changed on the host since it was read). */
  apply: {},
  rollOut: {},
  cancelRollOut: {},
  /** Open Switchyard's log channel. */
  showLog: {},
});
export type WebviewMessage = Infer<typeof webviewMessage>;
export type WebviewMessageType = WebviewMessage['type'];

export const hostMessage = tagged({
  state: { state: wizardState },
});
export type HostMessage = Infer<typeof hostMessage>;

export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

function parseWith<T>(schema: Schema<T>, data: unknown): Parsed<T> {
  try {
    return { ok: true, message: schema.parse(data, 'message') };
  } catch (error) {
    if (error instanceof ProtocolError) return { ok: false, error: error.message };
    return { ok: false, error: `message: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** What the extension accepts from the webview. */
export function parseWebviewMessage(data: unknown): Parsed<WebviewMessage> {
  return parseWith(webviewMessage, data);
}

/** What the webview accepts from the extension. */
export function parseHostMessage(data: unknown): Parsed<HostMessage> {
  return parseWith(hostMessage, data);
}

/** Validates a state before it is sent, so a bug shows up in the extension's log, not as a blank webview. */
export function checkWizardState(state: WizardState): string | undefined {
  const parsed = parseWith(wizardState, state);
  return parsed.ok ? undefined : parsed.error;
}
