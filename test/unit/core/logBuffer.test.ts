import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogBuffer, type LogWrite } from '../../../src/core/logBuffer';
import { LogPump, type PumpClock } from '../../../src/core/logPump';

const lines = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ text: `line ${from + i}` }));

/** What a channel shows after applying the writes. */
function apply(channel: string[], write: LogWrite | undefined): string[] {
  if (!write) return channel;
  const texts = write.lines.map((l) => l.text);
  return write.kind === 'append' ? [...channel, ...texts] : texts;
}

describe('LogBuffer', () => {
  it('appends lines as they come while the channel has room', () => {
    const buffer = new LogBuffer(1000);
    lines(0, 3).forEach((l) => buffer.push(l));
    assert.deepEqual(buffer.flush(), { kind: 'append', lines: lines(0, 3) });
    assert.equal(buffer.flush(), undefined, 'nothing new, nothing to write');
    assert.equal(buffer.droppedLines, 0);
  });

  it('never lets the channel hold more than maxLines, keeps the newest, and says how many went', () => {
    const buffer = new LogBuffer(100);
    let channel: string[] = [];
    let next = 0;
    for (let batch = 0; batch < 50; batch++) {
      const size = 1 + ((batch * 37) % 45);
      lines(next, size).forEach((l) => buffer.push(l));
      next += size;
      channel = apply(channel, buffer.flush());
      assert.ok(channel.length <= 100, `batch ${batch}: ${channel.length} lines`);
      assert.equal(channel[channel.length - 1], `line ${next - 1}`, 'the newest line is shown');
      const body = channel[0].startsWith('…') ? channel.slice(1) : channel;
      // What is shown is a contiguous run of the newest lines.
      body.forEach((text, i) => assert.equal(text, `line ${next - body.length + i}`));
      assert.equal(buffer.droppedLines + body.length, next, 'every line is either shown or counted as dropped');
      if (buffer.droppedLines > 0) assert.equal(channel[0], `… ${buffer.droppedLines.toLocaleString('en-US')} lines dropped: this channel keeps the last 100 (switchyard.logs.maxLines)`);
    }
    assert.ok(buffer.droppedLines > 0);
  });

  it('rewrites the channel at most once per half-cap lines (not at every batch)', () => {
    const buffer = new LogBuffer(1000);
    let replaces = 0;
    for (let batch = 0; batch < 1000; batch++) {
      lines(batch * 10, 10).forEach((l) => buffer.push(l));
      if (buffer.flush()?.kind === 'replace') replaces++;
    }
    // 10 000 lines through a 1000-line channel: trims every ~500 lines → about 19.
    assert.ok(replaces <= 20, `${replaces} replaces`);
  });

  it('caps what piles up between flushes (a flood), counting the overflow as dropped', () => {
    const buffer = new LogBuffer(100);
    lines(0, 100_000).forEach((l) => buffer.push(l));
    assert.equal(buffer.pendingCount, 100);
    const write = buffer.flush();
    assert.equal(write?.kind, 'replace');
    assert.ok(write && write.lines.length <= 100);
    assert.equal(write?.lines[write.lines.length - 1].text, 'line 99999');
    assert.equal(buffer.droppedLines + (write?.lines.length ?? 0) - 1, 100_000);
  });

  it('applies a smaller maxLines at once, even with nothing new', () => {
    const buffer = new LogBuffer(1000);
    lines(0, 800).forEach((l) => buffer.push(l));
    let channel = apply([], buffer.flush());
    buffer.setMaxLines(200);
    channel = apply(channel, buffer.flush());
    assert.ok(channel.length <= 200);
    assert.equal(channel[channel.length - 1], 'line 799');
    assert.match(channel[0], /^… 700 lines dropped: this channel keeps the last 200/);
  });

  it('does not go below the minimum cap', () => {
    const buffer = new LogBuffer(5);
    lines(0, 99).forEach((l) => buffer.push(l));
    assert.equal(buffer.flush()?.kind, 'append');
  });
});

/** A clock that only moves when told. */
class FakeClock implements PumpClock {
  nowMs = 0;
  private timers: { at: number; callback: () => void; id: number }[] = [];
  private nextId = 1;

  now(): number {
    return this.nowMs;
  }
  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.nowMs + delayMs, callback, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const due = this.timers[0];
      if (!due || due.at > until) break;
      this.timers.shift();
      this.nowMs = due.at;
      due.callback();
    }
    this.nowMs = until;
  }
}

describe('LogPump', () => {
  it('writes a trickle as it comes: each line of one every 20 ms is written when it arrives', () => {
    const clock = new FakeClock();
    const writes: { at: number; texts: string[] }[] = [];
    const pump = new LogPump(new LogBuffer(1000), { write: (w) => writes.push({ at: clock.nowMs, texts: w.lines.map((l) => l.text) }) }, clock);
    for (let i = 0; i < 10; i++) {
      pump.push(lines(i, 1));
      clock.advance(0);
      assert.deepEqual(writes.at(-1), { at: i * 20, texts: [`line ${i}`] }, `line ${i} waits for nothing`);
      clock.advance(20);
    }
  });

  it('writes lines that arrive in one turn as one write, and never two writes within 16 ms', () => {
    const clock = new FakeClock();
    const writes: number[] = [];
    const pump = new LogPump(new LogBuffer(1000), { write: () => writes.push(clock.nowMs) }, clock);
    pump.push(lines(0, 3));
    pump.push(lines(3, 3));
    clock.advance(0);
    assert.deepEqual(writes, [0]);
    for (let ms = 1; ms <= 50; ms++) {
      pump.push(lines(ms, 1));
      clock.advance(1);
    }
    for (let i = 1; i < writes.length; i++) assert.ok(writes[i] - writes[i - 1] >= 16);
  });

  it('under a flood writes at most once per 100 ms (the first line after a quiet spell at once)', () => {
    const clock = new FakeClock();
    const writes: { at: number; count: number }[] = [];
    const pump = new LogPump(new LogBuffer(100_000), { write: (w) => writes.push({ at: clock.nowMs, count: w.lines.length }) }, clock);
    pump.push(lines(0, 1));
    clock.advance(0);
    assert.deepEqual(writes, [{ at: 0, count: 1 }], 'a lone line is not held back');
    // A flood: 20 lines every 1 ms for a second (20 000 lines/s).
    for (let ms = 1; ms <= 1000; ms++) {
      pump.push(lines(ms * 20, 20));
      clock.advance(1);
    }
    clock.advance(200);
    const total = writes.reduce((sum, w) => sum + w.count, 0);
    assert.equal(total, 1 + 20_000, 'every line arrives');
    assert.ok(writes.length <= 12, `${writes.length} writes for 20 001 lines`);
    for (let i = 1; i < writes.length; i++) assert.ok(writes[i].at - writes[i - 1].at >= 100, 'no two writes closer than the batch interval');
  });

  it('flushes what is pending when disposed, and takes nothing after', () => {
    const clock = new FakeClock();
    let count = 0;
    const pump = new LogPump(new LogBuffer(1000), { write: (w) => (count += w.lines.length) }, clock);
    pump.push(lines(0, 5));
    pump.dispose();
    assert.equal(count, 5);
    pump.push(lines(5, 5));
    clock.advance(1000);
    assert.equal(count, 5);
  });
});
