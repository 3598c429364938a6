/**
 * The deploy lock and journal as the host stores them (`~/.switchyard/lock`, `journal.jsonl`):
 * pure parsers shared by the deploy ports, the tree snapshot and the CLI.
 */
import type { HistoryItem, JournalEntry, LockRecord } from './deployTypes';

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

/** Merges the journal's `started` and `finished` lines into one item per operation, oldest first. */
export function summarizeHistory(entries: readonly JournalEntry[]): HistoryItem[] {
  const items = new Map<string, HistoryItem>();
  for (const entry of entries) {
    const existing = items.get(entry.id);
    const item: HistoryItem = existing ?? {
      id: entry.id,
      kind: entry.kind,
      service: entry.service,
      host: entry.host,
      who: entry.who,
      startedAt: entry.at,
      outcome: 'interrupted',
      steps: [],
    };
    if (entry.phase === 'started') {
      item.startedAt = entry.at;
    } else {
      item.finishedAt = entry.at;
      item.outcome = entry.outcome ?? 'uncertain';
      if (entry.steps) item.steps = entry.steps;
      if (entry.totalMs !== undefined) item.totalMs = entry.totalMs;
      if (entry.trafficOn) item.trafficOn = entry.trafficOn;
      if (entry.error) item.error = entry.error;
      if (entry.failedStep) item.failedStep = entry.failedStep;
      if (entry.warmUntil) item.warmUntil = entry.warmUntil;
      if (entry.downtimeMs !== undefined) item.downtimeMs = entry.downtimeMs;
    }
    if (entry.inPlace) item.inPlace = entry.inPlace;
    if (entry.tag) item.tag = entry.tag;
    if (entry.from) item.from = entry.from;
    if (entry.to) item.to = entry.to;
    if (!existing) items.set(entry.id, item);
  }
  return [...items.values()];
}
