/**
 * Log streams of a host: a container's log (Docker API), an Nginx log file (`tail -F`), or the live
 * color of a Blue-Green service. All ride the host's kept-open connection; disposing one ends what
 * it runs on the host.
 */
import type { LogSource } from '../core/logSources';
import { ContainerLogStream } from './containerLogStream';
import { LiveColorLogStream } from './liveColorLogStream';
import type { LogHost, LogStream, LogStreamOptions } from './logStream';
import { NginxLogStream } from './nginxLogStream';

export type { LogConnection, LogEvent, LogHost, LogResumeState, LogStream, LogStreamOptions, LogStreamStatus, NoticeLevel } from './logStream';
export { ContainerLogStream, LiveColorLogStream, NginxLogStream };

/** A stream for the source, not started yet (subscribe to it first, then `start()`). */
export function createLogStream(host: LogHost, source: LogSource, options: LogStreamOptions): LogStream {
  switch (source.kind) {
    case 'container':
      return new ContainerLogStream(source, host, options);
    case 'liveColor':
      return new LiveColorLogStream(source, host, options);
    case 'nginx':
      return new NginxLogStream(source, host, options);
  }
}
