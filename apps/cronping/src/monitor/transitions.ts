import { newMessageId } from '@studio/service-kit/outbound';
import type { Check, CronpingRepository } from '../repository';
import type { Flip } from './state';

export interface AlertPayload {
  type: 'check.down' | 'check.up';
  timestamp: string;
  data: {
    uuid: string;
    name: string;
    slug: string;
    tags: string;
    status: 'down' | 'up';
    reason: string;
    last_ping: string | null;
    last_duration: number | null;
  };
}

export const isoSeconds = (ms: number) =>
  `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}+00:00`;

/**
 * Records a status flip and, when it alerts, one outbox row per channel of the check, in the caller's
 * transaction: the flip and its alerts commit together or not at all.
 */
export function recordFlip(repository: CronpingRepository, check: Check, flip: Flip, now: number): number {
  repository.insertFlip(check.id, {
    created: now,
    oldStatus: flip.oldStatus,
    newStatus: flip.newStatus,
    reason: flip.reason,
  });
  if (!flip.notify || (flip.newStatus !== 'down' && flip.newStatus !== 'up')) return 0;
  const channelIds = repository.channelIdsOfCheck(check.id);
  if (channelIds.length === 0) return 0;
  const payload: AlertPayload = {
    type: flip.newStatus === 'down' ? 'check.down' : 'check.up',
    timestamp: new Date(now).toISOString(),
    data: {
      uuid: check.code,
      name: check.name,
      slug: check.slug,
      tags: check.tags,
      status: flip.newStatus,
      reason: flip.reason,
      last_ping: check.lastPing === null ? null : isoSeconds(check.lastPing),
      last_duration: check.lastDuration === null ? null : Math.round(check.lastDuration / 1000),
    },
  };
  const body = JSON.stringify(payload);
  for (const channelId of channelIds) {
    repository.insertNotification({
      accountId: check.accountId,
      channelId,
      checkCode: check.code,
      event: flip.newStatus,
      payload: body,
      // One id per event and channel, kept across retries so receivers can deduplicate.
      messageId: newMessageId(),
      now,
    });
  }
  return channelIds.length;
}
