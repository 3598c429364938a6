/**
 * The one place where remote command arguments become shell text.
 * Every remote command is built as an argv array and quoted here, never by concatenation.
 */

// `=` is not safe: an unquoted first word `A=b` would be an assignment, not a command.
const safeWord = /^[A-Za-z0-9_@%+:,./-]+$/;

/** Quotes one argument for a POSIX shell: single quotes, with `'` written as `'\''`. */
export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new Error('A remote command argument must not contain a NUL character.');
  if (arg === '') return "''";
  if (safeWord.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Quotes every argument and joins them into one command line for `sh`. */
export function toCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('A remote command needs at least a program name.');
  return argv.map(quoteArg).join(' ');
}
