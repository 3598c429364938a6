import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { silentLogger } from '../../../src/core/logger';
import { buildShellRequest, CommandShell, ShellFrameParser, type Frame, type ShellChannel } from '../../../src/host/commandShell';
import { HostError } from '../../../src/host/hostErrors';
import { toCommandLine } from '../../../src/host/shellQuote';

const nonce = 'abc123';

function frameBytes(id: string, status: number, stdout: Buffer, stderr: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`SYF${nonce} ${id} ${status} ${stdout.length} ${stderr.length}\n`), stdout, stderr]);
}

const samples: Frame[] = [
  { id: 'ready', exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) },
  { id: 'r1', exitCode: 0, stdout: Buffer.from('hello\n'), stderr: Buffer.alloc(0) },
  // Output that contains our own header text, newlines and binary must come back as is.
  { id: 'r2', exitCode: 3, stdout: Buffer.from(`SYF${nonce} r9 0 5 5\nfake\n`), stderr: Buffer.from('err\nSYF') },
  { id: 'r3', exitCode: 255, stdout: randomBytes(3000), stderr: Buffer.from([0, 10, 13, 0xff]) },
  { id: 'r4', exitCode: 1, stdout: Buffer.alloc(0), stderr: Buffer.from('only stderr') },
];
const stream = Buffer.concat(samples.map((f) => frameBytes(f.id, f.exitCode, f.stdout, f.stderr)));

function parseAll(chunks: Buffer[]): { frames: Frame[]; garbage: number } {
  let garbage = 0;
  const parser = new ShellFrameParser(nonce, (bytes) => (garbage += bytes.length));
  const frames = chunks.flatMap((chunk) => parser.push(chunk));
  return { frames, garbage };
}

void test('parser: one chunk', () => {
  const { frames, garbage } = parseAll([stream]);
  assert.deepEqual(frames, samples);
  assert.equal(garbage, 0);
});

void test('parser: split at every possible boundary', () => {
  for (let i = 0; i <= stream.length; i += i < 200 ? 1 : 97) {
    const { frames } = parseAll([stream.subarray(0, i), stream.subarray(i)]);
    assert.deepEqual(frames, samples, `split at ${i}`);
  }
});

void test('parser: byte by byte, and three-way splits inside headers', () => {
  const bytes = [...stream].map((b) => Buffer.from([b]));
  assert.deepEqual(parseAll(bytes).frames, samples);
  const headerEnd = stream.indexOf(0x0a, 20);
  const { frames } = parseAll([stream.subarray(0, 3), stream.subarray(3, headerEnd), stream.subarray(headerEnd, headerEnd + 1), stream.subarray(headerEnd + 1)]);
  assert.deepEqual(frames, samples);
});

void test('parser: bytes before a header (e.g. a noisy .bashrc) are reported and skipped', () => {
  const noise = Buffer.from('Welcome to the host!\nSYF-not-ours 1 2 3\n');
  const { frames, garbage } = parseAll([noise, stream.subarray(0, 10), stream.subarray(10)]);
  assert.deepEqual(frames, samples);
  assert.equal(garbage, noise.length);
});

void test('request line: quoted once, framed, stdin through base64', () => {
  const line = buildShellRequest(nonce, 'r1', toCommandLine(['echo', 'a b']), Buffer.from('in'));
  assert.ok(line.endsWith('\n'));
  assert.match(line, /\( echo 'a b' \) <"\$T\/i"/);
  assert.match(line, /printf '%s' 'aW4=' \| base64 -d/);
});

/** A local /bin/sh behind the ShellChannel interface: the same framing as over SSH, without SSH. */
function localShell(opened: { count: number }): () => Promise<ShellChannel> {
  return async () => {
    opened.count++;
    const child = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const channel: ShellChannel = {
      write: (data) => child.stdin.write(data),
      on: ((event: 'data' | 'close', listener: (chunk?: Buffer) => void) => {
        if (event === 'data') child.stdout.on('data', listener);
        else child.on('close', () => listener());
        return channel;
      }) as ShellChannel['on'],
      stderr: child.stderr,
      close: () => child.stdin.end(),
      signal: (name) => {
        try {
          if (child.pid) process.kill(-child.pid, `SIG${name}` as NodeJS.Signals);
        } catch {
          // already gone
        }
      },
    };
    return channel;
  };
}

void test('command shell on a real local sh: exact outputs, exit codes, one channel for many commands', async () => {
  const opened = { count: 0 };
  const shell = new CommandShell({ open: localShell(opened), logger: silentLogger });
  try {
    const tricky = await shell.run(toCommandLine(['sh', '-c', 'printf "out\\n\\nSYF%s x 0 1 1\\n" "$1"; printf "e\\0rr" >&2; exit 7', 'sh', 'fake']));
    assert.equal(tricky.stdout.toString(), 'out\n\nSYFfake x 0 1 1\n');
    assert.deepEqual([...tricky.stderr], [...Buffer.from('e\0rr')]);
    assert.equal(tricky.exitCode, 7);

    const binary = randomBytes(70_000);
    const echoed = await shell.run(toCommandLine(['cat']), { stdin: binary });
    assert.ok(echoed.stdout.equals(binary), 'stdin and stdout are binary safe');

    const exited = await shell.run(toCommandLine(['exit', '4']));
    assert.equal(exited.exitCode, 4, '`exit` ends only the subshell');
    await shell.run('cd /tmp');
    assert.notEqual((await shell.run('pwd')).stdout.toString(), '/tmp\n', '`cd` does not leak into the next command');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => shell.run(toCommandLine(['echo', String(i)]))));
    assert.deepEqual(results.map((r) => r.stdout.toString()), Array.from({ length: 20 }, (_, i) => `${i}\n`), 'queued requests answer in order');
    assert.equal(shell.channelsOpened, 1);
    assert.equal(opened.count, 1);
  } finally {
    shell.dispose();
  }
});

void test('command shell: a timeout or abort does not desync the next command', async () => {
  const opened = { count: 0 };
  const shell = new CommandShell({ open: localShell(opened), logger: silentLogger });
  try {
    await assert.rejects(shell.run(toCommandLine(['sh', '-c', 'echo partial; sleep 5; echo late']), { timeoutMs: 200 }), (e: unknown) => e instanceof HostError && e.code === 'timeout');
    const next = await shell.run(toCommandLine(['echo', 'next']));
    assert.equal(next.stdout.toString(), 'next\n');

    const controller = new AbortController();
    const running = shell.run(toCommandLine(['sleep', '5']), { signal: controller.signal });
    const queued = shell.run(toCommandLine(['echo', 'queued']));
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(running, (e: unknown) => e instanceof HostError && e.code === 'cancelled');
    assert.equal((await queued).stdout.toString(), 'queued\n');

    const abortedBefore = new AbortController();
    abortedBefore.abort();
    await assert.rejects(shell.run('true', { signal: abortedBefore.signal }), (e: unknown) => e instanceof HostError && e.code === 'cancelled');
    assert.equal(opened.count, 3, 'each stopped command cost one fresh shell, nothing more');
  } finally {
    shell.dispose();
  }
});

void test('command shell: reset rejects queued and running requests', async () => {
  const shell = new CommandShell({ open: localShell({ count: 0 }), logger: silentLogger });
  const running = shell.run(toCommandLine(['sleep', '5']));
  const queued = shell.run(toCommandLine(['echo', 'x']));
  setTimeout(() => shell.reset(new HostError('connectionLost', 'lost')), 100);
  await assert.rejects(running, (e: unknown) => e instanceof HostError && e.code === 'connectionLost');
  await assert.rejects(queued, (e: unknown) => e instanceof HostError && e.code === 'connectionLost');
  shell.dispose();
  await assert.rejects(shell.run('true'), (e: unknown) => e instanceof HostError && e.code === 'connectionLost');
});
