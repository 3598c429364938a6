import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../../src/core/durations';

function ms(text: string): number {
  const parsed = parseDuration(text);
  assert.ok(parsed.ok, `expected "${text}" to parse, got: ${parsed.ok ? '' : parsed.message}`);
  return parsed.valueMs;
}

function refusal(text: string): string {
  const parsed = parseDuration(text);
  assert.ok(!parsed.ok, `expected "${text}" to be refused`);
  return parsed.message;
}

void describe('parseDuration', () => {
  void it('reads the forms Compose files use', () => {
    assert.equal(ms('1m30s'), 90_000);
    assert.equal(ms('30s'), 30_000);
    assert.equal(ms('1.5s'), 1_500);
    assert.equal(ms('500ms'), 500);
    assert.equal(ms('1h'), 3_600_000);
    assert.equal(ms('2m'), 120_000);
    assert.equal(ms('0s'), 0);
    assert.equal(ms('2h45m10s'), 9_910_000);
    assert.equal(ms('.5s'), 500);
    assert.equal(ms('1.s'), 1_000);
  });

  void it('accepts what Go accepts beyond the common forms', () => {
    assert.equal(ms('0'), 0);
    assert.equal(ms('250us'), 0.25);
    assert.equal(ms('250µs'), 0.25);
    assert.equal(ms('1500000ns'), 1.5);
    assert.equal(ms('30s1m'), 90_000);
    assert.equal(ms('+5s'), 5_000);
    assert.equal(ms(' 10s '), 10_000);
  });

  void it('refuses a bare number and says which unit to add', () => {
    const message = refusal('30');
    assert.match(message, /"30" has no unit/);
    assert.match(message, /"30s"/);
  });

  void it('refuses negative, unknown units, empty text and garbage with precise messages', () => {
    assert.match(refusal('-1s'), /"-1s" is negative/);
    assert.match(refusal('1x'), /unknown unit "x"/);
    assert.match(refusal('1d'), /days are not supported: write "24h"/);
    assert.match(refusal(''), /empty/);
    assert.match(refusal('   '), /empty/);
    assert.match(refusal('1m 30s'), /contains a space/);
    assert.match(refusal('s'), /expected a number/);
    assert.match(refusal('1m30'), /no unit after "30"/);
    assert.match(refusal('+'), /not a duration/);
    assert.match(refusal('3000000h'), /too long/);
  });
});

void describe('formatDuration', () => {
  void it('writes the shortest form Compose accepts', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(1_500), '1.5s');
    assert.equal(formatDuration(30_000), '30s');
    assert.equal(formatDuration(60_000), '1m');
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(61_000), '61s');
    assert.equal(formatDuration(3_600_000), '1h');
    assert.equal(formatDuration(3_601_000), '1h1s');
    assert.equal(formatDuration(5_400_000), '90m');
    assert.equal(formatDuration(0.25), '250us');
    assert.equal(formatDuration(1_234), '1.234s');
  });

  void it('round-trips through parseDuration', () => {
    for (const value of [0, 1, 7, 999, 1_000, 1_001, 15_000, 59_999, 60_001, 123_456, 3_599_999, 86_400_000, 0.001, 12.5]) {
      assert.equal(ms(formatDuration(value)), value, `round trip of ${value} ms via "${formatDuration(value)}"`);
    }
  });

  void it('refuses a negative or non-finite duration', () => {
    assert.throws(() => formatDuration(-1), RangeError);
    assert.throws(() => formatDuration(Number.NaN), RangeError);
  });
});
