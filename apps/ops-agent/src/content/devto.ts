import type { OutboundClient } from '@studio/service-kit/outbound';
import { requestJson } from '../outbound';

/**
 * Dev.to through the Forem API (v1): `POST {DEVTO_URL}/articles` with the `api-key` header and
 * `{"article": {title, body_markdown, published, tags, canonical_url}}`; 201 answers the article's id and url.
 */
export function createDevtoClient(options: { url: string; apiKey: string; outbound: OutboundClient }) {
  return {
    async publishArticle(input: {
      title: string;
      bodyMarkdown: string;
      tags: string[];
      canonicalUrl?: string | null;
    }): Promise<{ id: string; url: string }> {
      const response = await requestJson(options.outbound, `${options.url}/articles`, {
        method: 'POST',
        headers: { 'api-key': options.apiKey, accept: 'application/vnd.forem.api-v1+json' },
        body: {
          article: {
            title: input.title,
            body_markdown: input.bodyMarkdown,
            published: true,
            // Forem takes at most four tags, alphanumeric only.
            tags: input.tags
              .map((tag) => tag.toLowerCase().replace(/[^a-z0-9]/g, ''))
              .filter(Boolean)
              .slice(0, 4),
            ...(input.canonicalUrl ? { canonical_url: input.canonicalUrl } : {}),
          },
        },
      });
      const article = response.json as { id?: number | string; url?: string } | undefined;
      if (response.status !== 201 || article?.id === undefined || !article.url) {
        throw new Error(`Dev.to answered ${response.status}: ${response.text.slice(0, 200)}`);
      }
      return { id: String(article.id), url: article.url };
    },
  };
}

export type DevtoClient = ReturnType<typeof createDevtoClient>;
