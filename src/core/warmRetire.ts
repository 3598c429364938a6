/**
 * "Keep the old color warm for N minutes": a deploy that keeps the old color records until when
 * (`warmUntil` in the journal). This stops such a color once that time has passed — run by every
 * connected editor on a timer and by `switchyard retire-warm` (cron) — under the same deploy lock,
 * and only when the journal and the switch file still say that color is the idle one.
 */
import { summarizeHistory } from './deployEngine';
import type { DeployPorts, HistoryItem, LockRecord } from './deployTypes';
import type { BlueGreenService, Color, HostProfile } from './hostProfile';
import { describeError } from './logger';
import { liveColorOf } from './nginxSwitchFile';

export interface WarmColor {
  service: string;
  color: Color;
  container: string;
  /** ISO time until which the operation meant to keep it running. */
  warmUntil: string;
  /** The operation that kept it. */
  operationId: string;
}

export interface WarmRetireResult {
  stopped: WarmColor[];
  /** Expired, but left running this time, with why (lock held, switched back since, ...). */
  left: Array<WarmColor & { reason: string }>;
  /** Still within their time; the earliest `warmUntil` tells a caller when to look again. */
  waiting: WarmColor[];
}

/**
 * The colors kept warm by each service's last successful operation, from the journal. Pure: the
 * caller decides what is expired. A later operation of the same service supersedes the record.
 */
export function warmColors(history: readonly HistoryItem[], profile: HostProfile): WarmColor[] {
  const found: WarmColor[] = [];
  for (const service of profile.services) {
    if (service.kind !== 'blueGreen') continue;
    const last = [...history].reverse().find((item) => item.service === service.name && item.outcome !== 'failed' && item.outcome !== 'cancelled');
    if (!last || last.outcome !== 'succeeded' || !last.warmUntil || !last.from || !last.to || last.from.color === last.to.color) continue;
    found.push({ service: service.name, color: last.from.color, container: service.colors[last.from.color].container, warmUntil: last.warmUntil, operationId: last.id });
  }
  return found;
}

/** Stops every warm color whose time is up, each under the deploy lock; never the live color. */
export async function retireExpiredWarmColors(ports: DeployPorts, profile: HostProfile, options: { who: string; stopTimeoutS?: number; newId?: () => string }): Promise<WarmRetireResult> {
  const result: WarmRetireResult = { stopped: [], left: [], waiting: [] };
  const nowMs = ports.clock.now();
  const candidates = warmColors(summarizeHistory(await ports.journal.read(500)), profile);
  const expired = candidates.filter((warm) => Date.parse(warm.warmUntil) <= nowMs);
  result.waiting.push(...candidates.filter((warm) => !expired.includes(warm)));
  for (const warm of expired) {
    const service = profile.services.find((s): s is BlueGreenService => s.name === warm.service && s.kind === 'blueGreen') as BlueGreenService;
    const status = await ports.docker.inspect(warm.container);
    if (status?.state !== 'running') continue; // already stopped (by hand, or by another editor): nothing to do
    const nowIso = new Date(nowMs).toISOString();
    const record: LockRecord = {
      token: options.newId ? options.newId() : globalThis.crypto.randomUUID(),
      holder: options.who,
      host: ports.hostName,
      operation: 'retire',
      service: warm.service,
      startedAt: nowIso,
      heartbeatAt: nowIso,
    };
    const acquired = await ports.lock.acquire(record);
    if (!acquired.acquired) {
      result.left.push({ ...warm, reason: `the deploy lock is held by ${acquired.current.record.holder}; trying again later` });
      continue;
    }
    try {
      // Under the lock, look again: an operation may have finished between the first read and now.
      const again = warmColors(summarizeHistory(await ports.journal.read(500)), profile).find((w) => w.service === warm.service);
      const text = await ports.files.read(service.switchFile);
      const live = text === undefined ? { error: `${service.switchFile} does not exist` } : liveColorOf(text, service);
      if (again?.operationId !== warm.operationId) result.left.push({ ...warm, reason: 'another operation ran since; its own record decides' });
      else if ('error' in live) result.left.push({ ...warm, reason: `the live color cannot be told (${live.error}), so nothing is stopped` });
      else if (live.color === warm.color) result.left.push({ ...warm, reason: `${warm.color} is live again (switched back by hand?)` });
      else {
        await ports.docker.stop(warm.container, options.stopTimeoutS ?? 10);
        result.stopped.push(warm);
      }
    } catch (error) {
      result.left.push({ ...warm, reason: describeError(error) });
    } finally {
      await ports.lock.release(record.token).catch(() => undefined);
    }
  }
  return result;
}
