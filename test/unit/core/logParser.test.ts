import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerLogParser, LogCursor, normalizeTimestamp, sinceParam, type LogLine } from '../../../src/core/dockerLogParser';

/** One frame of Docker's multiplexed stream: [type, 0, 0, 0, size uint32 BE] + payload. */
function frame(type: 1 | 2, payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

const t1 = '2026-11-25T13:01:02.123456789Z';
const t2 = '2026-11-25T13:01:02.5Z';
const t3 = '2026-11-25T13:01:03.000000001Z';

const stream = Buffer.concat([
  frame(1, `${t1} hello\n`),
  frame(2, `${t2} GET /api/whoami 200\n`),
  // Multi-byte characters, a CRLF line, an empty line.
  frame(1, `${t3} Grüße — 手話 🤟\r\n`),
  frame(1, `${t3} \n`),
]);

const expected: LogLine[] = [
  { stream: 'stdout', timestamp: t1, text: 'hello' },
  { stream: 'stderr', timestamp: '2026-11-25T13:01:02.500000000Z', text: 'GET /api/whoami 200' },
  { stream: 'stdout', timestamp: t3, text: 'Grüße — 手話 🤟' },
  { stream: 'stdout', timestamp: t3, text: '' },
];

function parseChunks(chunks: Buffer[], isTty = false): LogLine[] {
  const parser = new DockerLogParser({ isTty });
  return [...chunks.flatMap((chunk) => parser.feed(chunk)), ...parser.end()];
}

describe('DockerLogParser (multiplexed)', () => {
  it('parses frames in one chunk, marking stderr', () => {
    assert.deepEqual(parseChunks([stream]), expected);
  });

  it('gives the same lines however the chunks are cut (inside headers, timestamps, UTF-8 characters)', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      assert.deepEqual(parseChunks([stream.subarray(0, cut), stream.subarray(cut)]), expected, `cut at ${cut}`);
    }
    for (let a = 1; a < stream.length; a += 7) {
      for (let b = a + 1; b < stream.length; b += 5) {
        assert.deepEqual(parseChunks([stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]), expected, `cuts at ${a}, ${b}`);
      }
    }
  });

  it('survives one byte at a time', () => {
    assert.deepEqual(parseChunks([...stream].map((byte) => Buffer.from([byte]))), expected);
  });

  it("joins Docker's partial messages (lines over 16 KiB) into one line with the first part's timestamp", () => {
    const long = 'x'.repeat(16 * 1024);
    const chunks = Buffer.concat([frame(1, `${t1} ${long}`), frame(2, `${t2} an stderr line in between\n`), frame(1, `${t3} ${long}tail\n`)]);
    const lines = parseChunks([chunks.subarray(0, 9000), chunks.subarray(9000)]);
    assert.deepEqual(lines, [
      { stream: 'stderr', timestamp: '2026-11-25T13:01:02.500000000Z', text: 'an stderr line in between' },
      { stream: 'stdout', timestamp: t1, text: `${long}${long}tail` },
    ]);
  });

  it('splits a UTF-8 character across two partial messages correctly', () => {
    const bytes = Buffer.from('手', 'utf8');
    const chunks = Buffer.concat([frame(1, Buffer.concat([Buffer.from(`${t1} a`), bytes.subarray(0, 1)])), frame(1, Buffer.concat([Buffer.from(`${t2} `), bytes.subarray(1), Buffer.from('b\n')]))]);
    assert.deepEqual(parseChunks([chunks]), [{ stream: 'stdout', timestamp: t1, text: 'a手b' }]);
  });

  it('keeps a last line without a newline for end()', () => {
    const parser = new DockerLogParser({ isTty: false });
    assert.deepEqual(parser.feed(frame(1, `${t1} no newline`)), []);
    assert.deepEqual(parser.end(), [{ stream: 'stdout', timestamp: t1, text: 'no newline' }]);
  });

  it('takes a line without a timestamp as text', () => {
    assert.deepEqual(parseChunks([frame(1, 'plain text\n')]), [{ stream: 'stdout', text: 'plain text' }]);
  });

  it('handles an empty frame and a frame size above 2^31', () => {
    const big = Buffer.alloc(8);
    big[0] = 1;
    big.writeUInt32BE(0x80000001, 4);
    const parser = new DockerLogParser({ isTty: false });
    assert.deepEqual(parser.feed(Buffer.concat([frame(1, ''), frame(2, `${t1} ok\n`)])), [{ stream: 'stderr', timestamp: t1, text: 'ok' }]);
    assert.deepEqual(parser.feed(Buffer.concat([big, Buffer.from('abc')])), [], 'waits for the rest of a big frame');
  });
});

describe('DockerLogParser (TTY)', () => {
  const raw = Buffer.from(`${t1} first\r\n${t2} second\n${t3} third, no newline`);
  it('splits the raw stream into lines with their timestamps', () => {
    const expectedTty: LogLine[] = [
      { stream: 'stdout', timestamp: t1, text: 'first' },
      { stream: 'stdout', timestamp: '2026-11-25T13:01:02.500000000Z', text: 'second' },
      { stream: 'stdout', timestamp: t3, text: 'third, no newline' },
    ];
    for (let cut = 1; cut < raw.length; cut++) assert.deepEqual(parseChunks([raw.subarray(0, cut), raw.subarray(cut)], true), expectedTty, `cut at ${cut}`);
  });
});

describe('timestamps', () => {
  it('normalizes to nine fraction digits in UTC', () => {
    assert.equal(normalizeTimestamp('2026-11-25T13:01:02Z'), '2026-11-25T13:01:02.000000000Z');
    assert.equal(normalizeTimestamp('2026-11-25T13:01:02.12Z'), '2026-11-25T13:01:02.120000000Z');
    assert.equal(normalizeTimestamp('2026-11-25T15:01:02.123456789+02:00'), '2026-11-25T13:01:02.123456789Z');
    assert.equal(normalizeTimestamp('yesterday'), undefined);
  });

  it('sorts normalized timestamps as text even when Docker trims trailing zeros', () => {
    const a = normalizeTimestamp('2026-11-25T13:01:02.5Z') as string;
    const b = normalizeTimestamp('2026-11-25T13:01:02.49999Z') as string;
    assert.ok(b < a);
  });

  it("builds Docker's since value (seconds.nanoseconds)", () => {
    assert.equal(sinceParam('2026-11-25T13:01:02.123456789Z'), `${Date.UTC(2026, 10, 25, 13, 1, 2) / 1000}.123456789`);
  });
});

describe('LogCursor', () => {
  const line = (timestamp: string, text: string, stream: 'stdout' | 'stderr' = 'stdout'): LogLine => ({ stream, timestamp, text });
  const t4 = '2026-11-25T13:01:04.000000000Z';

  it("after a re-attach with Docker's inclusive since, drops what was shown and keeps what was not", () => {
    const cursor = new LogCursor();
    const first = [line(t1, 'a'), line(t2, 'b', 'stderr'), line(t3, 'c')];
    assert.deepEqual(
      first.filter((l) => cursor.accept(l)),
      first,
    );
    assert.equal(cursor.since, sinceParam(t3), 'since is the newest line shown');
    const again = [line(t3, 'c'), line(t4, 'd')];
    assert.deepEqual(
      again.filter((l) => cursor.accept(l)).map((l) => l.text),
      ['d'],
    );
  });

  it('drops a block of earlier lines that Docker sends again in the middle of a stream', () => {
    const cursor = new LogCursor();
    const stamps = Array.from({ length: 8 }, (_, i) => `2026-11-25T13:01:0${i}.000000000Z`);
    const sent = [0, 1, 2, 3, 4, 2, 3, 4, 5, 6, 7].map((i) => line(stamps[i], `tp ${i}`));
    assert.deepEqual(
      sent.filter((l) => cursor.accept(l)).map((l) => l.text),
      ['tp 0', 'tp 1', 'tp 2', 'tp 3', 'tp 4', 'tp 5', 'tp 6', 'tp 7'],
    );
  });

  it('judges stdout and stderr each by its own order (their lines interleave out of timestamp order)', () => {
    const cursor = new LogCursor();
    assert.equal(cursor.accept(line(t3, 'out')), true);
    assert.equal(cursor.accept(line(t2, 'err, stamped a moment earlier', 'stderr')), true);
    assert.equal(cursor.accept(line(t2, 'out again, older', 'stdout')), false);
  });

  it('keeps its place across streams through its state', () => {
    const cursor = new LogCursor();
    cursor.accept(line(t1, 'a'));
    const next = new LogCursor(cursor.state);
    assert.equal(next.accept(line(t1, 'a')), false);
    assert.equal(next.accept(line(t3, 'b')), true);
  });

  it('shows everything when nothing was shown before, and lines without a timestamp always', () => {
    const cursor = new LogCursor();
    assert.equal(cursor.since, undefined);
    assert.equal(cursor.state, undefined);
    assert.equal(cursor.accept(line(t1, 'a')), true);
    assert.equal(cursor.accept({ stream: 'stdout', text: 'no time' }), true);
  });
});
