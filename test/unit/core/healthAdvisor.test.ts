import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkTimings,
  describeMs,
  failureDetectionMs,
  outlookOf,
  recommendTimings,
  simulateHealthcheck,
  timingTexts,
  type HealthMeasurements,
  type Recommendation,
  type TimingIssue,
  type Timings,
  type TimingTexts,
} from '../../../src/core/healthAdvisor';
import { parseDuration } from '../../../src/core/durations';
import { unifiedDiff } from '../../../src/core/lineDiff';

function recommend(measurements: HealthMeasurements, detectWithinMs?: number): Recommendation {
  const advice = recommendTimings(measurements, detectWithinMs === undefined ? {} : { detectWithinMs });
  assert.ok(advice.ok, advice.ok ? '' : advice.reason);
  return advice.recommendation;
}

const s = (seconds: number) => seconds * 1000;

/** handDoc's model server as the sandbox measures it: 7-15 s to load, probes of a few ms through SSH. */
const handdocFastapi: HealthMeasurements = {
  runs: [
    { startupMs: 9_412, probeMs: [4.1, 3.8, 5.2, 3.9, 4.4], memoryKb: 3_900 },
    { startupMs: 15_204, probeMs: [4.0, 6.1, 4.2, 4.3, 4.0], memoryKb: 4_100 },
    { startupMs: 7_180, probeMs: [3.7, 3.9, 4.8, 4.1, 4.0], memoryKb: 4_000 },
  ],
  deadlineMs: 120_000,
};

const texts = (t: Partial<TimingTexts>): TimingTexts => ({ interval: '5s', timeout: '1s', retries: '3', start_period: '23s', ...t });

function issuesOf(field: TimingIssue['field'], issues: TimingIssue[]): TimingIssue[] {
  return issues.filter((issue) => issue.field === field);
}

void describe('recommendTimings', () => {
  void it('recommends handDoc FastAPI timings from its measured 7-15 s startup, with one-line reasons', () => {
    const r = recommend(handdocFastapi);
    // start_period ≥ slowest startup × 1.5: 15.204 s × 1.5 = 22.806 s, rounded up to whole seconds.
    assert.equal(r.fields.start_period.value, '23s');
    assert.match(r.fields.start_period.reason, /slowest startup 15\.2 s × 1\.5 = 22\.8 s, rounded up/);
    // timeout ≥ slowest probe × 3 (6.1 ms × 3 = 18.3 ms), never under the 1 s floor.
    assert.equal(r.fields.timeout.value, '1s');
    assert.match(r.fields.timeout.reason, /6 ms × 3 = 18 ms, raised to the 1s minimum/);
    // interval: the longest of 5/10/15/20 s that is at most a third of 15.2 s.
    assert.equal(r.fields.interval.value, '5s');
    assert.match(r.fields.interval.reason, /Switchyard's own probe switches as soon as it answers/);
    assert.equal(r.fields.retries.value, '3');
    assert.match(r.fields.retries.reason, /reported within 16 s/);
    assert.deepEqual(r.timings, { intervalMs: 5_000, timeoutMs: 1_000, retries: 3, startPeriodMs: 23_000 });
    for (const field of Object.values(r.fields)) assert.ok(!field.reason.includes('\n'), 'one line each');
    assert.equal(r.slowestStartupMs, 15_204);
    assert.equal(r.maxMemoryKb, 4_100);
    assert.deepEqual(r.warnings, []);
  });

  void it('states the worst-case detection time of a broken deploy and of a failure in a running container', () => {
    const r = recommend(handdocFastapi);
    // Probes at 5,10,15,20 s start inside start_period (23 s); those at 25, 30, 35 s count and time out after 1 s.
    assert.equal(r.outlook.brokenDeployDetectedMs, 36_000);
    // One interval until the next probe, two more cycles, then the timeout of the third.
    assert.equal(r.outlook.failureDetectedMs, 5_000 + 2 * 5_000 + 1_000);
    // The probe at 15 s waits for the app (ready at 15.204 s) and passes within its 1 s timeout.
    assert.ok(r.outlook.healthyAfterMs !== undefined && Math.abs(r.outlook.healthyAfterMs - 15_210.1) < 1);
    assert.ok(r.summary.some((line) => /Worst case until a broken deploy is reported unhealthy: 36 s/.test(line)));
    assert.ok(r.summary.some((line) => /Memory at rest: 4\.0 MiB/.test(line)));
  });

  void it('compares with the timings handDoc guessed: healthy at 30 s instead of 15 s, broken deploys found after 135 s', () => {
    const guessed: Timings = { intervalMs: s(30), timeoutMs: s(15), retries: 3, startPeriodMs: s(60) };
    const outlook = outlookOf(guessed, 15_204, 6.1);
    assert.ok(outlook.healthyAfterMs !== undefined && outlook.healthyAfterMs >= 30_000 && outlook.healthyAfterMs < 30_100);
    // Counted probes start at 60, 90 and 120 s and each hangs for 15 s.
    assert.equal(outlook.brokenDeployDetectedMs, 135_000);
  });

  void it('takes Docker’s own (slower) probe durations into the timeout', () => {
    const r = recommend({ ...handdocFastapi, dockerProbeMs: [120, 95, 410] });
    // 410 ms × 3 = 1.23 s → 2s.
    assert.equal(r.fields.timeout.value, '2s');
    assert.match(r.fields.timeout.reason, /slowest Docker's own probe 410 ms × 3 = 1\.2 s, rounded up/);
    assert.equal(r.slowestProbeMs, 410);
  });

  void it('scales with a slow JVM start (60 s) and a slow probe (2.4 s)', () => {
    const r = recommend({ runs: [{ startupMs: s(48), probeMs: [1_800] }, { startupMs: s(60), probeMs: [2_400] }, { startupMs: s(55), probeMs: [2_000] }], deadlineMs: s(300) });
    assert.equal(r.fields.start_period.value, '90s'); // 60 s × 1.5, in Compose's shortest form
    assert.equal(r.fields.timeout.value, '8s'); // 7.2 s rounded up
    assert.equal(r.fields.interval.value, '20s'); // 60 / 3 = 20
    // 20 + 2 × 20 + 8 = 68 s > 60 s aimed for: 2 retries (48 s).
    assert.equal(r.fields.retries.value, '2');
    assert.match(r.fields.retries.reason, /2 so a real failure is reported within 48 s \(aim: 1 min\)/);
  });

  void it('raises the interval to cover a timeout longer than it', () => {
    const r = recommend({ runs: [{ startupMs: s(9), probeMs: [3_000] }, { startupMs: s(9), probeMs: [] }, { startupMs: s(9), probeMs: [] }], deadlineMs: s(60) });
    assert.equal(r.fields.timeout.value, '9s');
    assert.equal(r.fields.interval.value, '10s');
    assert.match(r.fields.interval.reason, /raised to cover the timeout/);
    assert.ok(r.timings.intervalMs >= r.timings.timeoutMs);
  });

  void it('lowers retries to meet a stated detection time, down to 1 with a warning', () => {
    assert.equal(recommend(handdocFastapi, s(11)).fields.retries.value, '2'); // 5 + 5 + 1 = 11 s
    const one = recommend(handdocFastapi, s(3));
    assert.equal(one.fields.retries.value, '1');
    assert.ok(one.warnings.some((w) => /Even with 1 retry a failure takes 6 s/.test(w)));
  });

  void it('refuses when no run ever answered, and says so instead of guessing', () => {
    const advice = recommendTimings({ runs: [{ probeMs: [], failure: 'no answer within 2 min (last: 404)' }, { probeMs: [] }], deadlineMs: s(120) });
    assert.equal(advice.ok, false);
    assert.match(advice.ok ? '' : advice.reason, /never answered in any of the 2 runs \(no answer within 2 min \(last: 404\)\)/);
    assert.equal(recommendTimings({ runs: [], deadlineMs: s(60) }).ok, false);
  });

  void it('recommends from the runs that answered and warns about the others and about few runs', () => {
    const r = recommend({ runs: [{ startupMs: s(8), probeMs: [5] }, { probeMs: [], failure: 'the container exited (code 1)' }], deadlineMs: s(60) });
    assert.equal(r.fields.start_period.value, '12s');
    assert.ok(r.warnings.some((w) => /Run 2 never got an answer \(the container exited \(code 1\)\)/.test(w)));
    assert.ok(r.warnings.some((w) => /Only 1 successful run/.test(w)));
  });

  void it('has a start_period of at least 1 s for an app that answers at once, and a 1 s timeout without probe samples', () => {
    const r = recommend({ runs: [{ startupMs: 120, probeMs: [] }, { startupMs: 90, probeMs: [] }, { startupMs: 100, probeMs: [] }], deadlineMs: s(60) });
    assert.equal(r.fields.start_period.value, '1s');
    assert.equal(r.fields.timeout.value, '1s');
    assert.equal(r.fields.interval.value, '5s');
    assert.ok(r.warnings.some((w) => /No probe duration was measured/.test(w)));
  });

  void it('writes every value in a form Compose reads back to the same duration', () => {
    for (const m of [handdocFastapi, { runs: [{ startupMs: 61_234, probeMs: [333] }], deadlineMs: s(300) }]) {
      const r = recommend(m);
      for (const field of ['interval', 'timeout', 'start_period'] as const) {
        const parsed = parseDuration(r.fields[field].value);
        assert.ok(parsed.ok);
        assert.equal(parsed.valueMs, r.timings[field === 'start_period' ? 'startPeriodMs' : field === 'interval' ? 'intervalMs' : 'timeoutMs']);
      }
      assert.deepEqual(checkTimings(timingTexts(r.timings), { slowestStartupMs: r.slowestStartupMs, slowestProbeMs: r.slowestProbeMs }).issues.filter((i) => i.severity === 'error'), []);
    }
  });
});

void describe('simulateHealthcheck (Docker 20.10)', () => {
  const timings: Timings = { intervalMs: s(10), timeoutMs: s(3), retries: 3, startPeriodMs: 0 };

  void it('marks a slow loader unhealthy when its start_period is too short (the handDoc failure)', () => {
    // Models take 40 s; probes at 10, 20, 30 s each wait 3 s and fail; nothing is excused.
    const result = simulateHealthcheck({ timings, readyAtMs: s(40), probeMs: 5 });
    assert.equal(result.unhealthyAtMs, 33_000);
    assert.deepEqual(result.probes.map((p) => [p.startMs, p.ok, p.counted]), [
      [10_000, false, true],
      [20_000, false, true],
      [30_000, false, true],
    ]);
  });

  void it('does not count failures of probes that started within start_period', () => {
    const result = simulateHealthcheck({ timings: { ...timings, startPeriodMs: s(35) }, readyAtMs: s(40), probeMs: 5 });
    assert.equal(result.unhealthyAtMs, undefined);
    assert.equal(result.healthyAtMs, 40_005);
    assert.deepEqual(result.probes.map((p) => [p.startMs, p.ok, p.counted]), [
      [10_000, false, false],
      [20_000, false, false],
      [30_000, false, false],
      [40_000, true, false],
    ]);
    // The same app with a 25 s start period: the probe at 30 s counts, but one failure is not three.
    const shorter = simulateHealthcheck({ timings: { ...timings, startPeriodMs: s(25) }, readyAtMs: s(40), probeMs: 5 });
    assert.deepEqual(shorter.probes.map((p) => p.counted), [false, false, true, false]);
    assert.equal(shorter.healthyAtMs, 40_005);
  });

  void it('a probe that waits for a blocking health endpoint passes if the app gets ready within its timeout', () => {
    const result = simulateHealthcheck({ timings: { ...timings, timeoutMs: s(15) }, readyAtMs: s(14), probeMs: 5 });
    assert.equal(result.healthyAtMs, 14_005);
    assert.equal(result.probes.length, 1);
  });

  void it('an endpoint that refuses before it is ready fails at once, and the next probe waits for the next tick', () => {
    const result = simulateHealthcheck({ timings, readyAtMs: s(25), probeMs: 5, isBlockingBeforeReady: false });
    assert.deepEqual(result.probes.map((p) => [p.startMs, p.endMs, p.ok]), [
      [10_000, 10_000, false],
      [20_000, 20_000, false],
      [30_000, 30_005, true],
    ]);
  });

  void it('a probe that hangs past the next tick is followed at once by the next (Go keeps one tick)', () => {
    const result = simulateHealthcheck({ timings: { intervalMs: s(5), timeoutMs: s(8), retries: 2, startPeriodMs: 0 }, readyAtMs: Infinity, probeMs: 5 });
    assert.deepEqual(result.probes.map((p) => [p.startMs, p.endMs]), [
      [5_000, 13_000],
      [13_000, 21_000],
    ]);
    assert.equal(result.unhealthyAtMs, 21_000);
  });

  void it('failure detection in a running container: interval + (retries − 1) × max(interval, timeout) + timeout', () => {
    assert.equal(failureDetectionMs({ intervalMs: s(30), timeoutMs: s(15), retries: 3, startPeriodMs: s(60) }), 30_000 + 60_000 + 15_000);
    assert.equal(failureDetectionMs({ intervalMs: s(5), timeoutMs: s(8), retries: 3, startPeriodMs: 0 }), 5_000 + 16_000 + 8_000);
  });
});

void describe('checkTimings', () => {
  const facts = { slowestStartupMs: 15_204, slowestProbeMs: 6 };

  void it('accepts the recommended values, and 1m30s-style durations', () => {
    const ok = checkTimings(texts({}), facts);
    assert.deepEqual(ok.issues, []);
    assert.deepEqual(ok.timings, { intervalMs: 5_000, timeoutMs: 1_000, retries: 3, startPeriodMs: 23_000 });
    const long = checkTimings(texts({ interval: '1m30s', timeout: '1.5s', start_period: '2m' }), facts);
    assert.deepEqual(long.timings, { intervalMs: 90_000, timeoutMs: 1_500, retries: 3, startPeriodMs: 120_000 });
    assert.deepEqual(long.issues.filter((i) => i.severity === 'error'), []);
  });

  void it('explains units and formats Compose rejects', () => {
    const cases: Array<[Partial<TimingTexts>, 'interval' | 'timeout' | 'start_period', RegExp]> = [
      [{ interval: '30' }, 'interval', /has no unit: Compose needs one .* e\.g\. "30s"/],
      [{ timeout: '1d' }, 'timeout', /unknown unit "d" \(days are not supported: write "24h"\)/],
      [{ interval: '1 m' }, 'interval', /contains a space/],
      [{ start_period: '-5s' }, 'start_period', /is negative/],
      [{ timeout: 'fast' }, 'timeout', /not a duration/],
      [{ interval: ' 5s' }, 'interval', /without spaces around it \("5s"\)/],
      [{ interval: '' }, 'interval', /empty/],
      [{ start_period: '' }, 'start_period', /write "0s" for no start period/],
      [{ interval: '0s' }, 'interval', /0 does not turn it off: Docker then uses its default \(30s\)/],
      [{ timeout: '0' }, 'timeout', /0 does not turn it off/],
      [{ timeout: '500us' }, 'timeout', /Docker refuses a timeout shorter than 1ms/],
    ];
    for (const [input, field, message] of cases) {
      const check = checkTimings(texts(input), facts);
      assert.equal(check.timings, undefined, JSON.stringify(input));
      const issues = issuesOf(field, check.issues);
      assert.equal(issues.length, 1, JSON.stringify(input));
      assert.equal(issues[0].severity, 'error');
      assert.match(issues[0].message, message);
    }
  });

  void it('explains bad retries: zero, fractions, durations, text', () => {
    const cases: Array<[string, RegExp]> = [
      ['0', /0 does not mean "never": Docker then uses its default of 3/],
      ['2.5', /a whole number of probes, not 2\.5/],
      ['3s', /retries is a count of probes, not a duration: write 3/],
      ['-1', /cannot be negative/],
      ['three', /"three" is not a whole number/],
      ['', /empty/],
      ['100000', /never be reached in practice/],
    ];
    for (const [retries, message] of cases) {
      const issues = issuesOf('retries', checkTimings(texts({ retries }), facts).issues);
      assert.equal(issues.length, 1, retries);
      assert.equal(issues[0].severity, 'error');
      assert.match(issues[0].message, message);
    }
    assert.match(issuesOf('retries', checkTimings(texts({ retries: '1' }), facts).issues)[0].message, /a single slow probe/);
  });

  void it('refuses a timeout longer than the interval, and one shorter than the slowest probe', () => {
    const longer = issuesOf('timeout', checkTimings(texts({ interval: '10s', timeout: '15s' }), facts).issues);
    assert.equal(longer[0].severity, 'error');
    assert.match(longer[0].message, /longer than the interval \(15s > 10s\): a hanging probe holds up the next one/);
    const short = issuesOf('timeout', checkTimings(texts({ timeout: '2ms' }), facts).issues);
    assert.equal(short[0].severity, 'error');
    assert.match(short[0].message, /shorter than the slowest measured probe \(6 ms\)/);
    const tight = issuesOf('timeout', checkTimings(texts({ timeout: '10ms' }), facts).issues);
    assert.equal(tight[0].severity, 'warning');
  });

  void it('says when Docker would mark the app unhealthy while it is still loading', () => {
    // handDoc's original settings (10s / 3s / 3, no start period) with a 40 s load.
    const check = checkTimings({ interval: '10s', timeout: '3s', retries: '3', start_period: '0s' }, { slowestStartupMs: s(40), slowestProbeMs: 6 });
    const startPeriod = issuesOf('start_period', check.issues);
    assert.equal(startPeriod[0].severity, 'error');
    assert.match(startPeriod[0].message, /unhealthy 33 s after start, before its slowest measured startup \(40 s\) ends\. Raise start_period to at least 1m/);
    assert.equal(check.outlook?.unhealthyDuringStartupAtMs, 33_000);
    // Shorter than the startup but saved by the retries: a warning, not an error.
    const saved = issuesOf('start_period', checkTimings(texts({ start_period: '10s' }), facts).issues);
    assert.equal(saved[0].severity, 'warning');
    assert.match(saved[0].message, /shorter than the slowest measured startup/);
    const thin = issuesOf('start_period', checkTimings(texts({ start_period: '16s' }), facts).issues);
    assert.match(thin[0].message, /little room/);
  });

  void it('checks formats alone when nothing was measured', () => {
    const check = checkTimings({ interval: '30s', timeout: '15s', retries: '3', start_period: '60s' });
    assert.deepEqual(check.issues, []);
    assert.equal(check.outlook?.brokenDeployDetectedMs, 135_000);
  });
});

void describe('describeMs and the diff shown before writing', () => {
  void it('formats durations for sentences', () => {
    assert.equal(describeMs(4.4), '4 ms');
    assert.equal(describeMs(1_230), '1.2 s');
    assert.equal(describeMs(15_204), '15.2 s');
    assert.equal(describeMs(23_000), '23 s');
    assert.equal(describeMs(90_000), '1 min 30 s');
    assert.equal(describeMs(Infinity), 'never');
  });

  void it('shows only the changed lines of a compose file, with context', () => {
    const before = 'services:\n  fastapi:\n    healthcheck:\n      # measured\n      interval: 30s\n      timeout: 15s\n      retries: 3\n      start_period: 60s\n';
    const after = before.replace('interval: 30s', 'interval: 5s').replace('start_period: 60s', 'start_period: 23s');
    assert.equal(
      unifiedDiff(before, after, { oldName: 'a/docker-compose.fastapi.yml', newName: 'b/docker-compose.fastapi.yml' }),
      [
        '--- a/docker-compose.fastapi.yml',
        '+++ b/docker-compose.fastapi.yml',
        '@@ -2,7 +2,7 @@',
        '   fastapi:',
        '     healthcheck:',
        '       # measured',
        '-      interval: 30s',
        '+      interval: 5s',
        '       timeout: 15s',
        '       retries: 3',
        '-      start_period: 60s',
        '+      start_period: 23s',
        '',
      ].join('\n'),
    );
    assert.equal(unifiedDiff(before, before), '');
    assert.equal(unifiedDiff('a\n', 'a\nb\n'), '--- a\n+++ b\n@@ -1,1 +1,2 @@\n a\n+b\n');
  });
});
