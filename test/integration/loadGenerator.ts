/**
 * A steady load through Nginx while a deploy runs: Debian's `wrk`, stopped with SIGINT when the
 * operation is over (wrk then prints its summary).
 *
 * Counting rule (shared/ENVIRONMENT.md): every request goes out on a new connection
 * (`Connection: close`, as a browser's retry would), so a reload closing idle keep-alive connections
 * is not blamed on the deploy; then EVERY non-2xx/3xx response and EVERY socket error (connect, read,
 * write, timeout) counts as a failed request. `--timeout 10s` so a slow answer is not an error.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface LoadStats {
  requests: number;
  non2xx3xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** non-2xx/3xx + all socket errors. */
  failed: number;
  durationS: number;
  requestsPerS: number;
  raw: string;
}

/** Reads wrk's summary; throws when it has none (so a broken run can never look like "0 failed"). */
export function parseWrkOutput(text: string): LoadStats {
  const summary = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(text);
  if (!summary) throw new Error(`wrk printed no summary:\n${text}`);
  const unit = { ms: 0.001, s: 1, m: 60 }[summary[3] as 'ms' | 's' | 'm'];
  const durationS = Number(summary[2]) * unit;
  const requests = Number(summary[1]);
  const non2xx3xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = { connect: Number(socket?.[1] ?? 0), read: Number(socket?.[2] ?? 0), write: Number(socket?.[3] ?? 0), timeout: Number(socket?.[4] ?? 0) };
  const failed = non2xx3xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout;
  return { requests, non2xx3xx, socketErrors, failed, durationS, requestsPerS: durationS > 0 ? requests / durationS : 0, raw: text };
}

export interface RunningLoad {
  readonly pid: number | undefined;
  stop(): Promise<LoadStats>;
}

/** Starts wrk against `url` (loopback only); resolves once it runs. */
export async function startLoad(url: string, options: { threads?: number; connections?: number } = {}): Promise<RunningLoad> {
  if (!/^http:\/\/127\.\d+\.\d+\.\d+[:/]/.test(url)) throw new Error(`load only on loopback, not ${url}`);
  const child: ChildProcess = spawn(
    'wrk',
    ['-t', String(options.threads ?? 2), '-c', String(options.connections ?? 8), '-d', '600s', '--timeout', '10s', '-H', 'Connection: close', url],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve());
  });
  // wrk prints its banner at once; wait for it so the load really runs before the operation starts.
  for (let i = 0; i < 50 && !output.includes('Running'); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 500));
  return {
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await closed;
      return parseWrkOutput(output);
    },
  };
}

export function describeLoad(stats: LoadStats): string {
  const s = stats.socketErrors;
  return `${stats.requests} requests in ${stats.durationS.toFixed(1)} s (${stats.requestsPerS.toFixed(0)}/s): ${stats.failed} failed (non-2xx/3xx ${stats.non2xx3xx}; socket errors connect ${s.connect}, read ${s.read}, write ${s.write}, timeout ${s.timeout})`;
}
