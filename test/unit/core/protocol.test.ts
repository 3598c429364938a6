import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkWizardState, parseHostMessage, parseWebviewMessage, type WebviewMessage, type WizardState } from '../../../src/core/protocol';

function accepted(data: unknown): WebviewMessage {
  const parsed = parseWebviewMessage(data);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  return parsed.message;
}

function refused(data: unknown): string {
  const parsed = parseWebviewMessage(data);
  assert.ok(!parsed.ok, `expected ${JSON.stringify(data)} to be refused`);
  return parsed.error;
}

const values = { interval: '5s', timeout: '1s', retries: '3', start_period: '23s' };

export function sampleState(): WizardState {
  return {
    host: 'handdoc-sandbox',
    service: 'fastapi',
    kind: 'single',
    version: 3,
    current: {
      files: [
        {
          path: '/home/ec2-user/apps/docker-compose.fastapi.yml',
          serviceKey: 'fastapi',
          healthcheck: { test: 'CMD wget -q -O- http://127.0.0.1:8000/health', testForm: 'CMD', interval: '30s', timeout: '15s', retries: 3, startPeriod: '60s', isDisabled: false, source: 'written under the service' },
          problems: [],
        },
      ],
      image: { ref: '127.0.0.1:5005/handdoc-fastapi:latest' },
      containers: [{ name: 'handdoc-fastapi', image: '127.0.0.1:5005/handdoc-fastapi:latest', state: 'running', health: 'healthy', failingStreak: 0, log: [{ start: '2026-11-25T13:00:00Z', durationMs: 12.5, exitCode: 0, output: '{"status":"ok"}' }] }],
      healthPath: '/health',
      port: 8000,
      notes: [],
    },
    measure: { status: 'done', runsPlanned: 3, deadlineMs: 120_000, runs: [{ run: 1, status: 'done', startupMs: 9_412, probeMs: [4.1, 3.8], memoryKb: 3_900 }], dockerProbeMs: [] },
    edit: { values, issues: [{ field: 'timeout', severity: 'warning', message: 'tight' }], outlook: ['Docker reports healthy about 15 s after start.'], needsTest: false, revision: 1 },
    apply: { status: 'idle', diffs: [], backups: [] },
    rollout: { status: 'idle', plan: 'Recreate handdoc-fastapi', kind: 'recreate', lines: [] },
  };
}

void describe('parseWebviewMessage (the extension side: everything from the webview is untrusted)', () => {
  void it('accepts each well-formed message', () => {
    assert.deepEqual(accepted({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(accepted({ type: 'measure', runs: 3 }), { type: 'measure', runs: 3 });
    assert.deepEqual(accepted({ type: 'measure', runs: 2, allowRestart: true }), { type: 'measure', runs: 2, allowRestart: true });
    assert.deepEqual(accepted({ type: 'edit', values }), { type: 'edit', values });
    assert.deepEqual(accepted({ type: 'preview', values: { ...values, test: 'wget -q -O- http://127.0.0.1:8000/health || exit 1' } }).type, 'preview');
    for (const type of ['reload', 'declineRestart', 'cancelMeasure', 'useRecommendation', 'apply', 'rollOut', 'cancelRollOut', 'showLog']) assert.equal(accepted({ type }).type, type);
  });

  void it('refuses unknown and malformed messages, saying where', () => {
    assert.match(refused({ type: 'deleteEverything' }), /message\.type: unknown message type "deleteEverything"/);
    assert.match(refused({}), /message\.type: unknown message type undefined/);
    assert.match(refused(null), /expected a message object, got null/);
    assert.match(refused('ready'), /expected a message object, got a string/);
    assert.match(refused([{ type: 'ready' }]), /got a list/);
    assert.match(refused({ type: 'ready', extra: 1 }), /message\.extra: unknown key/);
    assert.match(refused({ type: 'measure' }), /message\.runs: is required/);
    assert.match(refused({ type: 'measure', runs: '3' }), /message\.runs: expected a finite number, got a string/);
    assert.match(refused({ type: 'measure', runs: 2.5 }), /expected a whole number/);
    assert.match(refused({ type: 'measure', runs: 0 }), /less than 1/);
    assert.match(refused({ type: 'measure', runs: 1e9 }), /more than 10/);
    assert.match(refused({ type: 'measure', runs: NaN }), /finite number/);
    assert.match(refused({ type: 'measure', runs: 3, allowRestart: 'yes' }), /allowRestart: expected true or false/);
    assert.match(refused({ type: 'edit', values: { ...values, retries: 3 } }), /message\.values\.retries: expected a string, got number/);
    assert.match(refused({ type: 'edit', values: { interval: '5s' } }), /message\.values\.timeout: is required/);
    assert.match(refused({ type: 'edit', values: { ...values, interval: 'x'.repeat(41) } }), /values\.interval: longer than 40 characters/);
    assert.match(refused({ type: 'edit', values: { ...values, command: 'rm -rf /' } }), /values\.command: unknown key/);
  });

  void it('does not let an object with a different prototype or __proto__ key through', () => {
    assert.match(refused(Object.create({ type: 'ready' }) as object), /expected a message object/);
    assert.match(refused(JSON.parse('{"type":"ready","__proto__":{"x":1}}')), /__proto__: unknown key/);
    class Fake {
      type = 'ready';
    }
    assert.match(refused(new Fake()), /expected a message object/);
  });
});

void describe('parseHostMessage (the webview side)', () => {
  void it('accepts a full state and returns a copy without extra keys', () => {
    const parsed = parseHostMessage({ type: 'state', state: sampleState() });
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
    assert.deepEqual(parsed.message, { type: 'state', state: sampleState() });
    assert.equal(checkWizardState(sampleState()), undefined);
  });

  void it('refuses a state with a wrong or missing field, naming the path', () => {
    const bad = sampleState() as unknown as { measure: { runs: Array<{ status: string }> }; kind: string };
    bad.measure.runs[0].status = 'exploded';
    const parsed = parseHostMessage({ type: 'state', state: bad });
    assert.ok(!parsed.ok);
    assert.match(parsed.error, /message\.state\.measure\.runs\[0\]\.status: expected one of waiting, starting/);
    const { kind: _kind, ...noKind } = sampleState();
    assert.match(checkWizardState(noKind as unknown as WizardState) ?? '', /message\.kind: is required/);
    assert.ok(!parseHostMessage({ type: 'ready' }).ok, 'a webview message is not a host message');
    assert.ok(!parseHostMessage({ type: 'state' }).ok);
  });

  void it('bounds lists and strings', () => {
    const state = sampleState();
    state.rollout.lines = Array.from({ length: 301 }, (_, i) => `line ${i}`);
    assert.match(checkWizardState(state) ?? '', /rollout\.lines: more than 300 items/);
  });
});
