import * as vscode from 'vscode';
import { LogBuffer, type BufferedLine, type LogLevel, type LogWrite } from '../core/logBuffer';
import { LogPump, systemClock, type LogSink } from '../core/logPump';
import { channelLines, logChannelName, logSourceKey, noticeLine, type LogSource } from '../core/logSources';
import type { HostWatcher } from '../host/hostWatcher';
import type { LogEvent, LogResumeState, LogStream } from '../host/logStreams';
import { Disposable } from './disposable';
import type { HostRegistry } from './hostRegistry';
import type { OutputLogger } from './outputLogger';
import type { SettingsReader } from './settings';

/** A plain channel (`log` language: the Output panel colors levels and dates) written in whole batches. */
class PlainChannelSink implements LogSink {
  constructor(private readonly channel: vscode.OutputChannel) {}

  write(write: LogWrite): void {
    const text = write.lines.map((line) => `${line.text}\n`).join('');
    if (write.kind === 'append') this.channel.append(text);
    else this.channel.replace(text);
  }
}

/** A LogOutputChannel: consecutive lines of one level are one entry, so the panel's level filter works per line. */
class LeveledChannelSink implements LogSink {
  constructor(private readonly channel: vscode.LogOutputChannel) {}

  write(write: LogWrite): void {
    if (write.kind === 'replace') this.channel.clear();
    let start = 0;
    for (let i = 1; i <= write.lines.length; i++) {
      const level = write.lines[start].level ?? 'info';
      if (i < write.lines.length && (write.lines[i].level ?? 'info') === level) continue;
      this.log(
        level,
        write.lines
          .slice(start, i)
          .map((line) => line.text)
          .join('\n'),
      );
      start = i;
    }
  }

  private log(level: LogLevel, text: string): void {
    this.channel[level](text);
  }
}

interface Entry {
  readonly source: LogSource;
  readonly channel: vscode.OutputChannel;
  readonly pump: LogPump;
  stream?: LogStream;
  /** The watcher the stream rides; when the registry replaces it (reconnect, settings), the stream moves over. */
  watcher?: HostWatcher;
  subscriptions: vscode.Disposable[];
}

/** A source is tailing while its stream runs (following, or waiting to be picked up again). */
function isActive(stream: LogStream | undefined): stream is LogStream {
  return stream !== undefined && stream.status !== 'stopped' && stream.status !== 'failed';
}

/**
 * One output channel per log source ("Switchyard: handdoc-fastapi"), fed by a host-layer stream
 * through a LogPump: batched appends, a cap on the lines a channel holds. Streams end with their
 * channel entry; the channels stay readable until the extension ends.
 */
export class LogChannels extends Disposable {
  private readonly entries = new Map<string, Entry>();
  private readonly _onDidChange = this._register(new vscode.EventEmitter<void>());
  /** A stream started or stopped. */
  readonly onDidChange = this._onDidChange.event;
  private streamsModule?: typeof import('../host/logStreams');

  constructor(
    private readonly hosts: HostRegistry,
    private readonly settings: SettingsReader,
    private readonly logger: OutputLogger,
  ) {
    super();
    this._register(settings.onDidChange((current) => this.entries.forEach((entry) => entry.pump.setMaxLines(current.logs.maxLines))));
    this._register(hosts.onDidChangeHost(({ host, change }) => change.kind === 'connection' && this.follow(host)));
    this._register(hosts.onDidChangeHosts(() => new Set([...this.entries.values()].map((e) => e.source.host)).forEach((host) => this.follow(host))));
    this._register(this.onDidChange(() => void vscode.commands.executeCommand('setContext', 'switchyard.logStreamCount', this.active().length)));
    this._register({ dispose: () => this.disposeEntries() });
  }

  /** Sources being tailed now. */
  active(): LogSource[] {
    return [...this.entries.values()].filter((entry) => isActive(entry.stream)).map((entry) => entry.source);
  }

  isActive(source: LogSource): boolean {
    return isActive(this.entries.get(logSourceKey(source))?.stream);
  }

  /** Shows the source's channel, and starts tailing it unless it already is. */
  show(source: LogSource, options: { preserveFocus?: boolean } = {}): void {
    const entry = this.entry(source);
    entry.channel.show(options.preserveFocus ?? true);
    // After a Stop, start afresh (the last lines), not with everything written meanwhile.
    if (!isActive(entry.stream)) this.start(entry, undefined, { connect: true });
  }

  /** Ends the stream on the host; the channel keeps what it shows. */
  stop(source: LogSource): void {
    const entry = this.entries.get(logSourceKey(source));
    if (!entry || !isActive(entry.stream)) return;
    this.endStream(entry);
    entry.pump.push([{ text: noticeLine('stopped tailing'), level: 'info' }]);
    this._onDidChange.fire();
  }

  stopAll(): void {
    for (const entry of this.entries.values()) this.stop(entry.source);
  }

  private get streams(): typeof import('../host/logStreams') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.streamsModule ??= require('../host/logStreams') as typeof import('../host/logStreams');
    return this.streamsModule;
  }

  private entry(source: LogSource): Entry {
    const key = logSourceKey(source);
    const existing = this.entries.get(key);
    if (existing) return existing;
    const name = logChannelName(source, this.hosts.profiles.length > 1);
    let channel: vscode.OutputChannel;
    let sink: LogSink;
    if (source.kind === 'nginx' && source.file === 'error') {
      // Nginx's error log says its level on each line: a LogOutputChannel lets the panel filter by it.
      const logChannel = vscode.window.createOutputChannel(name, { log: true });
      channel = logChannel;
      sink = new LeveledChannelSink(logChannel);
    } else {
      // Container and access logs carry their own time and level in the text; a LogOutputChannel would stamp each
      // line again with its arrival time, and its per-entry writes cost too much at thousands of lines a second.
      channel = vscode.window.createOutputChannel(name, 'log');
      sink = new PlainChannelSink(channel);
    }
    const entry: Entry = { source, channel, pump: new LogPump(new LogBuffer(this.settings.current.logs.maxLines), sink, systemClock), subscriptions: [] };
    this.entries.set(key, entry);
    return entry;
  }

  private start(entry: Entry, resume: LogResumeState | undefined, options: { connect: boolean }): void {
    const host = entry.source.host;
    let watcher = this.hosts.get(host);
    if (watcher && options.connect && ['idle', 'failed', 'closed'].includes(watcher.connectionState.kind)) {
      // connect() may replace a failed watcher: take the one it uses.
      void this.hosts.connect(host);
      watcher = this.hosts.get(host);
    }
    if (!watcher) {
      entry.pump.push([{ text: noticeLine(`${host} is not configured (switchyard.hosts)`), level: 'error' }]);
      return;
    }
    const stream = this.streams.createLogStream(watcher, entry.source, { tailLines: this.settings.current.logs.tailLines, ...(resume ? { resume } : {}) });
    entry.stream = stream;
    entry.watcher = watcher;
    entry.subscriptions.push(
      stream.onDidEmit((event) => entry.pump.push(this.toLines(entry.source, event))),
      stream.onDidChangeStatus(() => this._onDidChange.fire()),
    );
    stream.start();
    this.logger.debug(`logs: tailing ${logChannelName(entry.source, true)}`);
    this._onDidChange.fire();
  }

  private toLines(source: LogSource, event: LogEvent): BufferedLine[] {
    if (event.kind === 'notice') return [{ text: event.text, level: event.level }];
    return channelLines(source, event.lines, { timestamps: this.settings.current.logs.timestamps });
  }

  /** The registry replaced a host's watcher (Connect, Disconnect, a changed profile): move its streams over. */
  private follow(host: string): void {
    const watcher = this.hosts.get(host);
    for (const entry of this.entries.values()) {
      if (entry.source.host !== host || !isActive(entry.stream) || entry.watcher === watcher) continue;
      const resume = entry.stream.resumeState();
      this.endStream(entry);
      if (watcher) this.start(entry, resume, { connect: false });
      else entry.pump.push([{ text: noticeLine(`${host} was removed from the settings: stopped tailing`), level: 'warn' }]);
    }
    this._onDidChange.fire();
  }

  private endStream(entry: Entry): void {
    for (const subscription of entry.subscriptions.splice(0)) subscription.dispose();
    const stream = entry.stream;
    stream?.dispose();
    if (stream) this.logger.debug(`logs: stopped ${logChannelName(entry.source, true)}`);
  }

  private disposeEntries(): void {
    for (const entry of this.entries.values()) {
      this.endStream(entry);
      entry.pump.dispose();
      entry.channel.dispose();
    }
    this.entries.clear();
  }
}
