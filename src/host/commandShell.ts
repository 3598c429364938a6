/**
 * A command server on one kept-open `/bin/sh` channel: opening an SSH exec channel costs ~150 ms,
 * writing a line to an open shell ~2 ms. Each request is one command line; the shell answers with a
 * length-prefixed frame (header line + exact stdout and stderr bytes), so output of any content —
 * binary, newlines, text that looks like our header — is recovered exactly.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logger';
import { HostError } from './hostErrors';
import { quoteArg } from './shellQuote';

/** The part of an ssh2 ClientChannel (or a local child process, in tests) the shell needs. */
export interface ShellChannel {
  write(data: string | Buffer): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  readonly stderr: { on(event: 'data', listener: (chunk: Buffer) => void): unknown };
  /** Ends the channel (and with it the shell: it reads EOF and exits). */
  close(): void;
  /** Asks sshd to signal the shell's process group (OpenSSH ≥ 7.9); used to stop a runaway command. */
  signal?(name: string): void;
}

export interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface Frame extends RawResult {
  id: string;
}

const maxHeaderBytes = 256;

/**
 * Splits the shell's stdout into frames. Header: `SYF<nonce> <id> <status> <stdoutBytes> <stderrBytes>\n`,
 * then exactly that many bytes. Bytes before a header (which only a broken shell would write) are reported, not parsed.
 */
export class ShellFrameParser {
  private buffer: Buffer = Buffer.alloc(0);
  private pending?: { id: string; exitCode: number; outLength: number; errLength: number };
  private readonly prefix: Buffer;

  constructor(
    nonce: string,
    private readonly onGarbage: (bytes: Buffer) => void = () => undefined,
  ) {
    this.prefix = Buffer.from(`SYF${nonce} `);
  }

  push(chunk: Buffer): Frame[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      if (!this.pending) {
        const start = this.buffer.indexOf(this.prefix);
        if (start === -1) {
          // Keep a tail that may be the start of a header split across chunks.
          const keep = Math.min(this.buffer.length, this.prefix.length - 1);
          if (this.buffer.length > keep) this.onGarbage(this.buffer.subarray(0, this.buffer.length - keep));
          this.buffer = this.buffer.subarray(this.buffer.length - keep);
          return frames;
        }
        if (start > 0) {
          this.onGarbage(this.buffer.subarray(0, start));
          this.buffer = this.buffer.subarray(start);
        }
        const end = this.buffer.indexOf(0x0a);
        if (end === -1) {
          if (this.buffer.length > maxHeaderBytes) {
            this.onGarbage(this.buffer.subarray(0, 1));
            this.buffer = this.buffer.subarray(1);
            continue;
          }
          return frames;
        }
        const header = this.buffer.subarray(this.prefix.length, end).toString('latin1');
        this.buffer = this.buffer.subarray(end + 1);
        const m = /^([A-Za-z0-9]+) (\d+) (\d+) (\d+)$/.exec(header);
        if (!m) {
          this.onGarbage(Buffer.from(header, 'latin1'));
          continue;
        }
        this.pending = { id: m[1], exitCode: Number(m[2]), outLength: Number(m[3]), errLength: Number(m[4]) };
      }
      const { id, exitCode, outLength, errLength } = this.pending;
      if (this.buffer.length < outLength + errLength) return frames;
      const stdout = Buffer.from(this.buffer.subarray(0, outLength));
      const stderr = Buffer.from(this.buffer.subarray(outLength, outLength + errLength));
      this.buffer = this.buffer.subarray(outLength + errLength);
      this.pending = undefined;
      frames.push({ id, exitCode, stdout, stderr });
    }
  }
}

/**
 * The line that starts the server: a private temp dir for outputs, removed when the shell ends.
 * It first stops the process groups of shells replaced after a timeout (sshd does not deliver
 * signals for every login), then reports its own process group id when it leads one (else 0).
 */
export function buildShellPrologue(nonce: string, staleGroups: readonly number[] = []): string {
  const kills = staleGroups.filter((g) => Number.isInteger(g) && g > 1).map((g) => `kill -TERM -${g} 2>/dev/null`);
  return [
    ...kills,
    'umask 077',
    'T=$(mktemp -d "${TMPDIR:-/tmp}/switchyard.XXXXXXXX") || exit 97',
    // dash skips the EXIT trap when a signal trap calls exit, so both clean up.
    `trap 'rm -rf "$T"' EXIT`,
    `trap 'rm -rf "$T"; exit 143' HUP INT TERM PIPE`,
    `g=$(cut -d' ' -f5 /proc/$$/stat 2>/dev/null)`,
    `[ "$g" = "$$" ] || g=0`,
    `printf 'SYF%s %s %s 0 0\\n' ${quoteArg(nonce)} ready "$g"`,
  ].join('; ');
}

/**
 * One request: run the (already quoted) command line in a subshell, so `cd`, `exit` or assignments in it
 * cannot change the server; capture both outputs in files; answer with their exact sizes and bytes.
 */
export function buildShellRequest(nonce: string, id: string, commandLine: string, stdin?: Buffer): string {
  const input = stdin ? '"$T/i"' : '/dev/null';
  const feed = stdin ? `printf '%s' ${quoteArg(stdin.toString('base64'))} | base64 -d >"$T/i"; ` : '';
  return (
    // One `wc` for both sizes ("N o M e T total"): every process costs on a busy host.
    `${feed}( ${commandLine} ) <${input} >"$T/o" 2>"$T/e"; s=$?; set -- $(wc -c "$T/o" "$T/e"); ` +
    `printf 'SYF%s %s %s %s %s\\n' ${quoteArg(nonce)} ${quoteArg(id)} "$s" "$1" "$3"; cat "$T/o" "$T/e"\n`
  );
}

interface Request {
  commandLine: string;
  stdin?: Buffer;
  signal?: AbortSignal;
  timeoutMs?: number;
  resolve(result: RawResult): void;
  reject(error: HostError): void;
  cleanup(): void;
}

interface LiveShell {
  channel: ShellChannel;
  /** The shell's process group when it leads one: what to stop if it has to be replaced mid-command. */
  groupId: number;
  nonce: string;
  parser: ShellFrameParser;
  ready: boolean;
  dead: boolean;
  onFrame?: (frame: Frame) => void;
  onDeath?: (error: HostError) => void;
}

export interface CommandShellOptions {
  /** Opens a fresh channel running `/bin/sh` (no pty). */
  open(): Promise<ShellChannel>;
  logger: Logger;
  /** The error for requests cut off because the shell or the connection went away. */
  lostError?: () => HostError;
}

/** Runs commands one after another on one shell; a timed-out or aborted command replaces the shell, never desyncs it. */
export class CommandShell {
  private readonly queue: Request[] = [];
  private current?: Request;
  private shell?: LiveShell;
  private opening?: Promise<LiveShell>;
  private isDisposed = false;
  private seq = 0;
  private staleGroups: number[] = [];
  /** How many shell channels this instance opened (tests check that calls share one). */
  channelsOpened = 0;

  constructor(private readonly options: CommandShellOptions) {}

  run(commandLine: string, options: { stdin?: Buffer; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<RawResult> {
    if (this.isDisposed) return Promise.reject(new HostError('connectionLost', 'The connection was closed.'));
    if (options.signal?.aborted) return Promise.reject(new HostError('cancelled', 'Cancelled.'));
    return new Promise<RawResult>((resolve, reject) => {
      const request: Request = { commandLine, resolve, reject, cleanup: () => undefined, ...options };
      if (options.signal) {
        const signal = options.signal;
        const onAbort = (): void => this.cancel(request, new HostError('cancelled', 'Cancelled.'));
        signal.addEventListener('abort', onAbort, { once: true });
        request.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(request);
      this.pump();
    });
  }

  /** Rejects everything queued or running and ends the shell (the connection is gone or closing). */
  reset(error: HostError): void {
    const pending = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = undefined;
    this.killShell();
    for (const request of pending) {
      request.cleanup();
      request.reject(error);
    }
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.reset(new HostError('connectionLost', 'The connection was closed.'));
    this.isDisposed = true;
  }

  private cancel(request: Request, error: HostError): void {
    const index = this.queue.indexOf(request);
    if (index !== -1) {
      this.queue.splice(index, 1);
    } else if (this.current === request) {
      // The shell is busy with this command: replace it so the next request starts clean.
      this.current = undefined;
      this.killShell(true);
    } else {
      return;
    }
    request.cleanup();
    request.reject(error);
    this.pump();
  }

  /** Ends the current shell; with `stopCommand`, the command it runs is stopped too (through a fresh shell). */
  private killShell(stopCommand = false): void {
    const shell = this.shell;
    this.shell = undefined;
    this.opening = undefined;
    if (!shell || shell.dead) return;
    shell.dead = true;
    if (stopCommand && shell.groupId > 1) {
      this.staleGroups.push(shell.groupId);
      // Open the replacement now: its prologue stops the old command even if nothing else is queued.
      if (!this.isDisposed) void this.getShell().catch(() => undefined);
    }
    try {
      // TERM, not KILL: the shell's trap then removes its temp dir.
      shell.channel.signal?.('TERM');
    } catch {
      // the channel may already be gone
    }
    try {
      shell.channel.close();
    } catch {
      // already closed
    }
  }

  private pump(): void {
    if (this.current || this.isDisposed) return;
    const request = this.queue.shift();
    if (!request) return;
    this.current = request;
    void this.getShell().then(
      (shell) => {
        if (this.current !== request) return;
        this.send(shell, request);
      },
      (error: unknown) => {
        if (this.current !== request) return;
        this.current = undefined;
        request.cleanup();
        request.reject(error instanceof HostError ? error : new HostError('commandFailed', `Could not start the command shell: ${String(error)}`));
        this.pump();
      },
    );
  }

  private send(shell: LiveShell, request: Request): void {
    const id = `r${(++this.seq).toString(36)}`;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      shell.onFrame = undefined;
      shell.onDeath = undefined;
      this.current = undefined;
      request.cleanup();
    };
    shell.onFrame = (frame) => {
      finish();
      if (frame.id !== id) {
        this.killShell();
        request.reject(new HostError('commandFailed', 'The command shell answered out of turn; it was restarted.'));
      } else {
        request.resolve({ stdout: frame.stdout, stderr: frame.stderr, exitCode: frame.exitCode });
      }
      this.pump();
    };
    shell.onDeath = (error) => {
      finish();
      request.reject(error);
      this.pump();
    };
    if (request.timeoutMs !== undefined && request.timeoutMs > 0) {
      const timeoutMs = request.timeoutMs;
      timer = setTimeout(() => this.cancel(request, new HostError('timeout', `The command did not finish within ${timeoutMs} ms and was stopped.`)), timeoutMs);
      const previous = request.cleanup;
      request.cleanup = () => {
        clearTimeout(timer);
        previous();
      };
    }
    shell.channel.write(buildShellRequest(shell.nonce, id, request.commandLine, request.stdin));
  }

  private getShell(): Promise<LiveShell> {
    if (this.shell && !this.shell.dead) return Promise.resolve(this.shell);
    if (!this.opening) {
      const opening = this.openShell();
      this.opening = opening;
      opening.then(
        (shell) => {
          if (this.opening === opening) {
            this.shell = shell;
            this.opening = undefined;
          } else {
            // reset() ran while it was opening: this shell is not wanted any more.
            shell.dead = true;
            shell.channel.close();
          }
        },
        () => {
          if (this.opening === opening) this.opening = undefined;
        },
      );
    }
    return this.opening;
  }

  private async openShell(): Promise<LiveShell> {
    const channel = await this.options.open();
    this.channelsOpened++;
    const nonce = randomBytes(9).toString('hex');
    const { logger } = this.options;
    const staleGroups = this.staleGroups.splice(0);
    const shell: LiveShell = {
      channel,
      groupId: 0,
      nonce,
      parser: new ShellFrameParser(nonce, (bytes) => logger.warn(`command shell: ignored ${bytes.length} unexpected bytes`)),
      ready: false,
      dead: false,
    };
    return new Promise<LiveShell>((resolve, reject) => {
      channel.on('data', (chunk: Buffer) => {
        // A replaced shell may still flush the answer of the command it was stopped for: ignore it.
        if (shell.dead) return;
        for (const frame of shell.parser.push(chunk)) {
          if (!shell.ready && frame.id === 'ready') {
            shell.ready = true;
            shell.groupId = frame.exitCode;
            resolve(shell);
          } else {
            shell.onFrame?.(frame);
          }
        }
      });
      channel.stderr.on('data', (chunk: Buffer) => logger.debug(`command shell stderr: ${chunk.toString('utf8').trim()}`));
      channel.on('close', () => {
        const wasDead = shell.dead;
        shell.dead = true;
        if (this.shell === shell) this.shell = undefined;
        const error = this.options.lostError?.() ?? new HostError('commandFailed', 'The command shell on the host ended unexpectedly.');
        if (!shell.ready) reject(new HostError('commandFailed', 'The command shell on the host did not start (is /bin/sh, mktemp, wc and base64 there?).'));
        else if (!wasDead) shell.onDeath?.(error);
      });
      channel.write(`${buildShellPrologue(nonce, staleGroups)}\n`);
    });
  }
}
