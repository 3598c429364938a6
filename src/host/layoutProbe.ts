/**
 * Gathers what "Add Host" needs to propose a profile: the compose files in the apps folder,
 * the Nginx files the running nginx really loads, the Docker socket, the log paths.
 * Plain data out; core/layoutDetection decides what it means.
 */
export interface ProbeRunner {
  exec(argv: string[], options?: { sudo?: boolean; signal?: AbortSignal; timeoutMs?: number }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
}

export interface RemoteFile {
  path: string;
  text: string;
}

export interface LayoutProbe {
  user: string;
  homeDir: string;
  appsDir: string;
  composeFiles: RemoteFile[];
  nginxFiles: RemoteFile[];
  nginxBinary?: string;
  /** The `-c` of the running nginx master, when it was started with one. */
  nginxMainConfig?: string;
  accessLog?: string;
  errorLog?: string;
  dockerSocket?: string;
  /** What the probe could not see, in words for the user. */
  notes: string[];
}

const composeNamePattern = /(^|\/)(docker-)?compose[^/]*\.ya?ml$/;

/** Splits `nginx -T` output into its files (`# configuration file /path:` headers). */
export function splitNginxDump(dump: string): RemoteFile[] {
  const files: RemoteFile[] = [];
  const header = /^# configuration file (.+):$/gm;
  const matches = [...dump.matchAll(header)];
  matches.forEach((match, i) => {
    const start = (match.index ?? 0) + match[0].length + 1;
    const end = i + 1 < matches.length ? matches[i + 1].index ?? dump.length : dump.length;
    files.push({ path: match[1], text: dump.slice(start, end).replace(/\n+$/, '\n') });
  });
  return files;
}

/** The `-c` argument of a running `nginx: master process ... -c FILE` command line. */
export function nginxConfigFromProcessArgs(psOutput: string): string | undefined {
  for (const line of psOutput.split('\n')) {
    if (!line.includes('master process')) continue;
    const match = /\s-c\s+(\S+)/.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

/** First `access_log`/`error_log` path in the dump (ignoring `off` and syslog targets). */
export function logPathFromDump(files: readonly RemoteFile[], directive: 'access_log' | 'error_log'): string | undefined {
  const pattern = new RegExp(`^\\s*${directive}\\s+(/[^\\s;]+)`, 'm');
  for (const file of files) {
    const match = pattern.exec(file.text.replace(/#.*$/gm, ''));
    if (match) return match[1];
  }
  return undefined;
}

export async function probeLayout(runner: ProbeRunner, options: { appsDir?: string; signal?: AbortSignal } = {}): Promise<LayoutProbe> {
  const notes: string[] = [];
  const whoami = await runner.exec(['sh', '-c', 'id -un; printf "%s\\n" "$HOME"; printf "%s\\n" "${DOCKER_HOST:-}"; command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true'], options);
  const [user = '', homeDir = '', dockerHost = '', nginxBinary = ''] = whoami.stdout.split('\n');
  const appsDir = options.appsDir ?? `${homeDir}/apps`;

  const listing = await runner.exec(['find', appsDir, '-maxdepth', '1', '-type', 'f'], options);
  const composePaths = listing.exitCode === 0 ? listing.stdout.split('\n').filter((p) => composeNamePattern.test(p)).sort() : [];
  if (listing.exitCode !== 0) notes.push(`No folder ${appsDir} on the host: choose the folder with your compose files.`);
  else if (composePaths.length === 0) notes.push(`No docker-compose*.yml files in ${appsDir}.`);
  const composeFiles = await Promise.all(
    composePaths.map(async (path) => ({ path, text: (await runner.exec(['cat', path], options)).stdout })),
  );

  const ps = await runner.exec(['ps', '-eo', 'args'], options);
  const nginxMainConfig = nginxConfigFromProcessArgs(ps.stdout);
  let nginxFiles: RemoteFile[] = [];
  if (!nginxBinary) notes.push('nginx is not installed (or not on the PATH) on the host.');
  else {
    const dumpArgs = [nginxBinary, ...(nginxMainConfig ? ['-c', nginxMainConfig] : []), '-T'];
    const dump = await runner.exec(dumpArgs, { ...options, sudo: true });
    if (dump.exitCode === 0) nginxFiles = splitNginxDump(dump.stdout);
    else notes.push(`Could not read the Nginx configuration with "sudo -n nginx -T": ${dump.stderr.trim().split('\n')[0] ?? 'failed'}.`);
  }

  const dockerSocket = dockerHost.startsWith('unix://') ? dockerHost.slice('unix://'.length) : undefined;
  if (dockerHost && !dockerSocket) notes.push(`DOCKER_HOST on the host is ${dockerHost}; Switchyard talks to a unix socket, so the default /var/run/docker.sock is assumed.`);

  return {
    user,
    homeDir,
    appsDir,
    composeFiles,
    nginxFiles,
    nginxBinary: nginxBinary || undefined,
    nginxMainConfig,
    accessLog: logPathFromDump(nginxFiles, 'access_log'),
    errorLog: logPathFromDump(nginxFiles, 'error_log'),
    dockerSocket,
    notes,
  };
}
