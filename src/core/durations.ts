/**
 * Docker / Compose durations (`1m30s`, `1.5s`, `500ms`), as Compose reads them: Go's
 * `time.ParseDuration`, except that a negative value is refused here because no
 * healthcheck or stop timing can be negative.
 */

export type DurationParse = { ok: true; valueMs: number } | { ok: false; message: string };

const nanosPerUnit: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n], // U+00B5 micro sign, accepted by Go
  ['μs', 1_000n], // U+03BC Greek mu, accepted by Go
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

/** Go's limit: a duration is an int64 count of nanoseconds (about 292 years). */
const maxNanos = 2n ** 63n - 1n;
const nanosPerMs = 1_000_000n;
const unitList = 'h, m, s, ms, us or ns';

function fail(message: string): DurationParse {
  return { ok: false, message };
}

/**
 * Parses a Compose duration to milliseconds (fractions of a millisecond are kept, `1us` is 0.001).
 * Accepts what Compose accepts; every refusal says what is wrong and how to write it.
 */
export function parseDuration(input: string): DurationParse {
  const text = input.trim();
  const shown = JSON.stringify(input);
  if (text === '') return fail('The duration is empty: write a number with a unit, e.g. "30s".');
  if (/\s/.test(text)) return fail(`${shown} contains a space: write the parts together, e.g. "1m30s".`);
  if (text.startsWith('-')) return fail(`${shown} is negative: a duration must be 0 or more, e.g. "0s".`);
  // Go accepts a bare "0" as the one unitless duration.
  if (text === '0' || text === '+0') return { ok: true, valueMs: 0 };
  if (/^\+?(\d+\.?\d*|\.\d+)$/.test(text)) {
    return fail(`${shown} has no unit: Compose needs one (${unitList}), e.g. "${text.replace(/^\+/, '')}s".`);
  }

  let rest = text.startsWith('+') ? text.slice(1) : text;
  if (rest === '') return fail(`${shown} is not a duration: expected a number with a unit, e.g. "30s".`);
  let totalNanos = 0n;
  while (rest !== '') {
    const part = /^(\d*)(?:\.(\d*))?([^\d.]*)/.exec(rest);
    const whole = part?.[1] ?? '';
    const fraction = part?.[2] ?? '';
    const unit = part?.[3] ?? '';
    if (!part || (whole === '' && fraction === '')) {
      return fail(`${shown} is not a duration: expected a number at "${rest}" (e.g. "1m30s", "1.5s", "500ms").`);
    }
    if (unit === '') return fail(`${shown} has no unit after "${part[0]}": use ${unitList}, e.g. "${part[0]}s".`);
    const unitNanos = nanosPerUnit.get(unit);
    if (unitNanos === undefined) {
      const hint = unit === 'd' ? ' (days are not supported: write "24h")' : '';
      return fail(`${shown} has an unknown unit "${unit}"${hint}: use ${unitList}.`);
    }
    const scale = 10n ** BigInt(fraction.length);
    // Truncates below a nanosecond, as Go does.
    totalNanos += (BigInt(whole || '0') * scale + BigInt(fraction || '0')) * unitNanos / scale;
    if (totalNanos > maxNanos) return fail(`${shown} is too long: the limit is about 292 years ("2562047h").`);
    rest = rest.slice(part[0].length);
  }
  return { ok: true, valueMs: nanosToMs(totalNanos) };
}

function nanosToMs(nanos: bigint): number {
  return Number(nanos / nanosPerMs) + Number(nanos % nanosPerMs) / 1e6;
}

/** Units from largest to smallest; `us` rather than `µs` so the output is plain ASCII. */
const formatUnits: ReadonlyArray<readonly [string, bigint]> = [
  ['h', 3_600_000_000_000n],
  ['m', 60_000_000_000n],
  ['s', 1_000_000_000n],
  ['ms', 1_000_000n],
  ['us', 1_000n],
  ['ns', 1n],
];

/** `value / unit` as a terminating decimal string, or undefined if it does not terminate within 9 digits. */
function exactDecimal(nanos: bigint, unit: bigint): string | undefined {
  const whole = nanos / unit;
  const remainder = nanos % unit;
  if (remainder === 0n) return whole.toString();
  for (let digits = 1; digits <= 9; digits++) {
    const scaled = remainder * 10n ** BigInt(digits);
    if (scaled % unit === 0n) return `${whole}.${(scaled / unit).toString().padStart(digits, '0')}`;
  }
  return undefined;
}

function shortestForm(nanos: bigint, fromUnit: number, memo: Map<string, string>): string {
  const key = `${nanos}/${fromUnit}`;
  const known = memo.get(key);
  if (known !== undefined) return known;
  let best: string | undefined;
  const consider = (candidate: string) => {
    if (best === undefined || candidate.length < best.length) best = candidate;
  };
  for (let i = fromUnit; i < formatUnits.length; i++) {
    const [name, unit] = formatUnits[i];
    const whole = nanos / unit;
    // Less than one of a unit reads better in the next unit down ("500ms", not "0.5s").
    const decimal = whole > 0n ? exactDecimal(nanos, unit) : undefined;
    if (decimal !== undefined) consider(`${decimal}${name}`);
    const remainder = nanos % unit;
    if (whole > 0n && remainder > 0n && i + 1 < formatUnits.length) {
      consider(`${whole}${name}${shortestForm(remainder, i + 1, memo)}`);
    }
  }
  // Every positive whole number of nanoseconds has the `ns` form, so best is always set.
  const result = best ?? `${nanos}ns`;
  memo.set(key, result);
  return result;
}

/**
 * The shortest duration text Compose accepts for `valueMs` (`90000` → `"90s"`, `1500` → `"1.5s"`,
 * `3600000` → `"1h"`, `0` → `"0s"`), never with a leading "0." (`500` → `"500ms"`).
 * Ties go to the form found first, i.e. the larger unit.
 * Sub-nanosecond fractions are rounded to the nearest nanosecond.
 */
export function formatDuration(valueMs: number): string {
  if (!Number.isFinite(valueMs) || valueMs < 0) throw new RangeError(`formatDuration needs a finite duration of 0 ms or more, got ${valueMs}`);
  const wholeMs = Math.floor(valueMs);
  const nanos = BigInt(wholeMs) * nanosPerMs + BigInt(Math.round((valueMs - wholeMs) * 1e6));
  if (nanos === 0n) return '0s';
  return shortestForm(nanos, 0, new Map());
}
