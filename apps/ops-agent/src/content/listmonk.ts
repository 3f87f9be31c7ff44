import type { OutboundClient } from '@studio/service-kit/outbound';
import { requestJson } from '../outbound';

/**
 * Listmonk: campaigns are created as drafts (`POST /api/campaigns`, status draft) when the newsletter item
 * enters the queue, and started (`PUT /api/campaigns/:id/status {"status":"running"}`) only after the
 * owner approves. API users authenticate with `Authorization: token <user>:<token>`.
 */
export function createListmonkClient(options: {
  url: string;
  user: string;
  token: string;
  listIds: number[];
  outbound: OutboundClient;
}) {
  const headers = { authorization: `token ${options.user}:${options.token}` };
  return {
    async createDraft(input: { name: string; subject: string; html: string }): Promise<{ id: string }> {
      const response = await requestJson(options.outbound, `${options.url}/api/campaigns`, {
        method: 'POST',
        headers,
        body: {
          name: input.name,
          subject: input.subject,
          lists: options.listIds,
          type: 'regular',
          content_type: 'html',
          body: input.html,
        },
      });
      const data = (response.json as { data?: { id?: number; status?: string } } | undefined)?.data;
      if (response.status !== 200 || data?.id === undefined) {
        throw new Error(`Listmonk answered ${response.status}: ${response.text.slice(0, 200)}`);
      }
      return { id: String(data.id) };
    },

    async start(campaignId: string): Promise<void> {
      const response = await requestJson(
        options.outbound,
        `${options.url}/api/campaigns/${encodeURIComponent(campaignId)}/status`,
        { method: 'PUT', headers, body: { status: 'running' } },
      );
      if (response.status !== 200)
        throw new Error(`Listmonk answered ${response.status}: ${response.text.slice(0, 200)}`);
    },
  };
}

export type ListmonkClient = ReturnType<typeof createListmonkClient>;
