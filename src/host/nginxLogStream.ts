/**
 * Follows an Nginx log file with `tail -n N -F <file>` (through `sudo -n` when the profile says so)
 * on one exec channel of the kept-open connection. `-F` follows the name across logrotate. The
 * channel's close ends tail on the host (HostConnection's watchdog), so stopping leaves nothing behind.
 */
import type { LogLine } from '../core/dockerLogParser';
import type { LogSource } from '../core/logSources';
import { LineSplitter, resumeContextLines, TailResume, type TailResumeResult } from '../core/tailResume';
import { describeError } from '../core/logger';
import type { ExecStream } from './hostConnection';
import { toHostError } from './hostErrors';
import { LogStream, readInSlices, type LogHost, type LogResumeState, type NoticeLevel } from './logStream';

/** Lines `tail` repeats after a reconnect, to find where it left off. */
const resumeLookbackLines = 1000;
/** No more lines for this long after a resume: the repeat is over. */
const resumeQuietMs = 300;

/** What tail and sudo say on stderr, as a notice. */
export function describeTailMessage(line: string, path: string, usesSudo: boolean): { text: string; level: NoticeLevel } {
  const cannotOpen = /^tail: cannot open '(.*)' for reading: (.*)$/.exec(line);
  if (cannotOpen) {
    const reason = cannotOpen[2];
    const hint = /permission denied/i.test(reason)
      ? usesSudo
        ? ''
        : ' (set "nginx.useSudo": true in the host profile to read it with sudo -n)'
      : '';
    return { text: `cannot read ${path}: ${reason}${hint}; following it once it can be read`, level: 'error' };
  }
  if (/^sudo: /.test(line)) {
    return {
      text: `sudo -n may not run tail for ${path} (${line.replace(/^sudo: /, '')}); allow it without a password, e.g. in /etc/sudoers.d: <user> ALL=(root) NOPASSWD: /usr/bin/tail`,
      level: 'error',
    };
  }
  if (/has become accessible/.test(line)) return { text: `${path} can be read now: following it`, level: 'info' };
  if (/has become inaccessible/.test(line)) return { text: `${path} has become inaccessible; waiting for it`, level: 'warn' };
  if (/has appeared|has been replaced|file truncated/.test(line)) return { text: `${path} was rotated or truncated: following the new file`, level: 'info' };
  return { text: line, level: 'warn' };
}

export class NginxLogStream extends LogStream {
  readonly path: string;
  private readonly tailLines: number;
  private exec?: ExecStream;
  /** The last lines shown, to find the place again after a reconnect. */
  private seen: string[];
  private resumeMatcher?: TailResume;
  private quietTimer?: NodeJS.Timeout;
  private hasAttached = false;
  private isAttaching = false;

  constructor(source: Extract<LogSource, { kind: 'nginx' }>, host: LogHost, options: { tailLines: number; resume?: LogResumeState }) {
    super(source, host);
    const nginx = host.connection.profile.nginx;
    this.path = source.file === 'access' ? nginx.accessLog : nginx.errorLog;
    this.tailLines = Math.max(0, Math.floor(options.tailLines));
    this.seen = options.resume?.seen?.slice(-resumeContextLines) ?? [];
  }

  private get usesSudo(): boolean {
    return this.connection.profile.nginx.useSudo;
  }

  start(): void {
    this.subscriptions.push(
      this.connection.onDidChangeState((state) => {
        if (state.kind !== 'connected') this.onDisconnected();
        else if (this.status === 'disconnected') void this.attach();
      }),
    );
    void this.attach();
  }

  resumeState(): LogResumeState {
    return { seen: [...this.seen] };
  }

  private async attach(): Promise<void> {
    if (this.isDisposed || this.isAttaching || this.exec) return;
    if (!this.isConnected) {
      this.onDisconnected();
      return;
    }
    this.isAttaching = true;
    const isResume = this.seen.length > 0;
    const lines = isResume ? Math.max(this.tailLines, resumeLookbackLines) : this.tailLines;
    let exec: ExecStream;
    try {
      exec = await this.connection.execStream(['tail', '-n', String(lines), '-F', this.path], { sudo: this.usesSudo });
    } catch (error) {
      this.isAttaching = false;
      if (!this.isConnected) this.onDisconnected();
      else {
        this.notice(`cannot follow ${this.path}: ${describeError(toHostError(error))}`, 'error');
        this.setStatus('failed');
      }
      return;
    }
    this.isAttaching = false;
    if (this.isDisposed) {
      exec.close();
      return;
    }
    this.exec = exec;
    this.resumeMatcher = isResume ? new TailResume(this.seen, lines) : undefined;
    if (!this.hasAttached) this.notice(`${this.path} on ${this.hostName}${isResume ? ': resuming where it stopped' : `: last ${this.tailLines} lines, then following`}`);
    else this.notice(`reconnected: ${this.path} resumes where it stopped`);
    this.hasAttached = true;
    this.setStatus('following');
    const out = new LineSplitter();
    const err = new LineSplitter();
    readInSlices(exec.stdout, (chunk) => this.onText(exec, out.feed(chunk)));
    exec.stderr.on('data', (chunk: Buffer) => {
      for (const line of err.feed(chunk)) this.onMessage(line);
    });
    // Handle the exit after the last output (sudo's refusal comes on stderr just before it).
    const drained = (stream: NodeJS.ReadableStream) => new Promise<void>((resolve) => (stream.once('end', resolve), stream.once('close', resolve)));
    void Promise.all([exec.exit, drained(exec.stdout), drained(exec.stderr)]).then(([code]) => {
      this.onText(exec, out.end());
      for (const line of err.end()) this.onMessage(line);
      this.onExit(exec, code);
    });
  }

  private onText(exec: ExecStream, texts: string[]): void {
    if (this.exec !== exec || texts.length === 0) return;
    const matcher = this.resumeMatcher;
    if (matcher && !matcher.isDone) {
      this.show(matcher.feed(texts));
      clearTimeout(this.quietTimer);
      if (!matcher.isDone) this.quietTimer = setTimeout(() => this.show(matcher.settle()), resumeQuietMs);
      return;
    }
    this.show({ lines: texts });
  }

  private show(result: TailResumeResult): void {
    if (result.notice) this.notice(result.notice, 'warn');
    if (result.lines.length === 0) return;
    this.seen = [...this.seen, ...result.lines.slice(-resumeContextLines)].slice(-resumeContextLines);
    this.emitLines(result.lines.map((text): LogLine => ({ stream: 'stdout', text })));
  }

  private onMessage(line: string): void {
    if (!line.trim()) return;
    const message = describeTailMessage(line, this.path, this.usesSudo);
    this.notice(message.text, message.level);
    if (message.level === 'error') this.setStatus('waiting');
    else if (/following (the new file|it)$/.test(message.text)) this.setStatus('following');
  }

  private onExit(exec: ExecStream, code: number | null): void {
    if (this.exec !== exec) return;
    this.exec = undefined;
    clearTimeout(this.quietTimer);
    if (this.isDisposed) return;
    if (!this.isConnected) {
      this.onDisconnected();
      return;
    }
    this.notice(`tail of ${this.path} ended${code === null ? '' : ` (exit code ${code})`}; Show Logs again to retry`, 'error');
    this.setStatus('failed');
  }

  private onDisconnected(): void {
    if (this.isDisposed) return;
    this.stopRemote();
    if (this.status === 'disconnected') return;
    if (this.hasAttached) this.notice(`connection to ${this.hostName} lost; ${this.path} resumes when it is back`, 'warn');
    else this.notice(`not connected to ${this.hostName}; ${this.path} follows once connected`);
    this.setStatus('disconnected');
  }

  protected stopRemote(): void {
    clearTimeout(this.quietTimer);
    const exec = this.exec;
    this.exec = undefined;
    exec?.close();
  }
}
