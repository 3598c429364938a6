/**
 * The deploy lock and journal as the host stores them (`~/.switchyard/lock`, `journal.jsonl`):
 * pure parsers shared by the deploy ports, the tree snapshot and the CLI.
 */
import type { JournalEntry, LockRecord } from './deployTypes';

/** Reads a lock file's JSON; a file Switchyard cannot read still counts as held. */
export function parseLockRecord(text: string): LockRecord | undefined {
  try {
    const js = JSON.parse(text) as Partial<LockRecord>;
    if (js && typeof js.token === 'string' && typeof js.holder === 'string' && typeof js.startedAt === 'string') return js as LockRecord;
  } catch {
    // not ours, or half-written by hand
  }
  return undefined;
}

export function parseJournal(text: string): JournalEntry[] {
  const entries: JournalEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const js = JSON.parse(line) as Partial<JournalEntry>;
      if (js && typeof js.id === 'string' && (js.phase === 'started' || js.phase === 'finished')) entries.push(js as JournalEntry);
    } catch {
      // a torn line (a client cut off mid-write) is skipped, not fatal
    }
  }
  return entries;
}
