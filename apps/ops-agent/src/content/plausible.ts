import type { OutboundClient } from '@studio/service-kit/outbound';
import { requestJson } from '../outbound';

/**
 * Plausible Stats API (v1 breakdown): visitors per page over the last 30 days, shown next to each post on the
 * owner's page. `GET /api/v1/stats/breakdown?site_id&period=30d&property=event:page&metrics=visitors` with
 * `Authorization: Bearer <key>` answers `{"results":[{"page","visitors"}]}`.
 */
export function createPlausibleClient(options: {
  url: string;
  apiKey: string;
  siteId: string;
  outbound: OutboundClient;
}) {
  return {
    async visitorsByPage(): Promise<Map<string, number>> {
      const query = new URLSearchParams({
        site_id: options.siteId,
        period: '30d',
        property: 'event:page',
        metrics: 'visitors',
        limit: '1000',
      });
      const response = await requestJson(options.outbound, `${options.url}/api/v1/stats/breakdown?${query}`, {
        headers: { authorization: `Bearer ${options.apiKey}` },
      });
      const results = (response.json as { results?: Array<{ page?: string; visitors?: number }> } | undefined)
        ?.results;
      if (response.status !== 200 || !Array.isArray(results)) {
        throw new Error(`Plausible answered ${response.status}: ${response.text.slice(0, 200)}`);
      }
      return new Map(results.flatMap((row) => (row.page ? [[row.page, row.visitors ?? 0] as const] : [])));
    },
  };
}

export type PlausibleClient = ReturnType<typeof createPlausibleClient>;
