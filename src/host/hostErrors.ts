/**
 * Every failure of the remote host as one typed error with a short, specific message a user can act on.
 * `toHostError` turns what ssh2 and Node throw into it; messages never carry stacks.
 */

export type HostErrorCode =
  | 'unreachable'
  | 'dnsFailure'
  | 'timeout'
  | 'authFailed'
  | 'keyUnreadable'
  | 'passphraseNeeded'
  | 'passphraseWrong'
  | 'hostKeyUnknownRejected'
  | 'hostKeyChanged'
  | 'connectionLost'
  | 'dockerPermissionDenied'
  | 'dockerNotInstalled'
  | 'dockerSocketMissing'
  | 'nginxNotInstalled'
  | 'sudoNeedsPassword'
  | 'commandFailed'
  | 'fileNotFound'
  | 'permissionDenied'
  | 'cancelled';

/** Codes that retrying will not fix: the user has to change something first. */
const fatalCodes: ReadonlySet<HostErrorCode> = new Set<HostErrorCode>([
  'authFailed',
  'keyUnreadable',
  'passphraseNeeded',
  'passphraseWrong',
  'hostKeyUnknownRejected',
  'hostKeyChanged',
  'cancelled',
]);

export class HostError extends Error {
  override readonly name = 'HostError';
  readonly code: HostErrorCode;
  /** What to do about it, when there is something specific (a command to run, a setting to change). */
  readonly hint?: string;

  constructor(code: HostErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }

  /** False for errors that will not go away by reconnecting (auth, host key, passphrase). */
  get isRetryable(): boolean {
    return !fatalCodes.has(this.code);
  }
}

export function isHostError(error: unknown, code?: HostErrorCode): error is HostError {
  return error instanceof HostError && (code === undefined || error.code === code);
}

/** What the caller knows about the attempt, to make the message specific. */
export interface HostErrorContext {
  host?: string;
  port?: number;
  user?: string;
  keyPath?: string;
}

function where(context: HostErrorContext): string {
  if (!context.host) return 'the host';
  return context.port !== undefined ? `${context.host}:${context.port}` : context.host;
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  level?: unknown;
  name?: unknown;
  hostname?: unknown;
}

/** Maps an ssh2 / Node / fs error to a HostError; a HostError passes through unchanged. */
export function toHostError(error: unknown, context: HostErrorContext = {}): HostError {
  if (error instanceof HostError) return error;
  const e: ErrorLike = typeof error === 'object' && error !== null ? (error as ErrorLike) : { message: String(error) };
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = typeof e.code === 'string' ? e.code : undefined;
  const level = typeof e.level === 'string' ? e.level : undefined;
  const target = where(context);
  const key = context.keyPath ?? 'the private key';
  const make = (c: HostErrorCode, text: string, hint?: string): HostError => new HostError(c, text, { cause: error, ...(hint !== undefined ? { hint } : {}) });

  if (e.name === 'AbortError' || code === 'ABORT_ERR') return make('cancelled', 'Cancelled.');

  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
    case 'EAI_NODATA': {
      const name = typeof e.hostname === 'string' ? e.hostname : context.host ?? 'the host';
      return make('dnsFailure', `Cannot resolve host name "${name}"${code === 'EAI_AGAIN' ? ' (DNS did not answer)' : ''}.`, 'Check the host name in the profile or ~/.ssh/config (HostName).');
    }
    case 'ECONNREFUSED':
      return make('unreachable', `Connection to ${target} was refused: no SSH server is listening there.`, 'Check the port and that sshd is running.');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'EADDRNOTAVAIL':
      return make('unreachable', `${target} cannot be reached from this machine (${code}).`, 'Check the address, your network, and firewall / security group rules for port 22.');
    case 'ETIMEDOUT':
      return make('timeout', `Connecting to ${target} timed out.`, 'A firewall may be dropping the connection, or the host is down.');
    case 'ECONNRESET':
    case 'EPIPE':
      return make('connectionLost', `The connection to ${target} was lost (${code}).`);
    case 'EACCES':
    case 'EPERM':
      if (context.keyPath) return make('keyUnreadable', `Cannot read the private key ${key}: permission denied.`);
      break;
    case 'ENOENT':
      if (context.keyPath) return make('keyUnreadable', `The private key ${key} does not exist.`);
      break;
    default:
      break;
  }

  if (/All configured authentication methods failed/i.test(message)) {
    const who = context.user ? `${context.user}@${target}` : target;
    return make('authFailed', `${who} did not accept any of our keys.`, 'Check the user name and identity file, and that the public key is in ~/.ssh/authorized_keys on the host.');
  }
  if (/no passphrase given/i.test(message)) return make('passphraseNeeded', `The private key ${key} is encrypted and needs its passphrase.`);
  if (/bad decrypt|bad passphrase|integrity check failed/i.test(message)) return make('passphraseWrong', `Wrong passphrase for ${key}.`);
  if (/Cannot parse privateKey|Unsupported key format|Malformed .*private key|does not contain a \(valid\) private key/i.test(message)) {
    return make('keyUnreadable', `${key} is not a private key ssh2 can read (${firstLine(message).replace(/^Cannot parse privateKey: /, '')}).`);
  }
  if (/Host denied \(verification failed\)/i.test(message)) return make('hostKeyChanged', `The host key of ${target} was not accepted.`);
  if (/Timed out while waiting for handshake/i.test(message)) return make('timeout', `${target} did not complete the SSH handshake in time.`, 'Is this really an SSH server, and is the host overloaded?');
  if (/Keepalive timeout/i.test(message)) return make('connectionLost', `${target} stopped answering keepalives; the connection is considered lost.`);
  if (/Connection lost before handshake|No response from server|Not connected|socket hang up|Channel is closed|connection reset/i.test(message)) {
    return make('connectionLost', `The connection to ${target} was lost.`);
  }
  if (/^\(SSH\) Channel open failure/i.test(message) && level !== undefined) return make('commandFailed', `${target} refused to open a channel: ${firstLine(message).replace(/^\(SSH\) Channel open failure: /, '')}.`);
  if (level === 'client-timeout') return make('timeout', `${target} did not answer in time.`);
  if (/a password is required|a terminal is required/i.test(message)) return make('sudoNeedsPassword', `sudo on ${target} asks for a password.`);
  return make('commandFailed', firstLine(message) || 'The host reported an error.');
}
