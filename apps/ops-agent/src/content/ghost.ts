import type { OutboundClient } from '@studio/service-kit/outbound';
import { SignJWT } from 'jose';
import type { Clock } from '../clock';
import { requestJson } from '../outbound';

/**
 * Ghost Admin API client (Ghost 5). Two traps from the seed, both handled here:
 * - Ghost 5 ignores a `markdown` field and, without `?source=html`, answers 201 for a post it stored with an
 *   empty body. So every write sends `html` with `?source=html`, and every publish is read back: an empty
 *   body is a failed step, not a success.
 * - A retry after a crash must not make a duplicate: publishing looks the slug up first.
 */
export interface GhostPost {
  id: string;
  slug: string;
  url: string;
  html: string | null;
  updated_at?: string;
}

export class GhostError extends Error {
  constructor(
    message: string,
    readonly ghostId: string | null = null,
  ) {
    super(message);
    this.name = 'GhostError';
  }
}

export function createGhostClient(options: {
  url: string;
  adminApiKey: string;
  outbound: OutboundClient;
  clock: Clock;
}) {
  const [keyId = '', secretHex = ''] = options.adminApiKey.split(':');
  const secret = Buffer.from(secretHex, 'hex');
  const base = `${options.url}/ghost/api/admin`;

  /** A short-lived token per request: HS256, kid = key id, aud /admin/, 5 minutes, as Ghost documents. */
  async function token(): Promise<string> {
    const iat = Math.floor(options.clock.now().getTime() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: keyId, typ: 'JWT' })
      .setIssuedAt(iat)
      .setExpirationTime(iat + 5 * 60)
      .setAudience('/admin/')
      .sign(secret);
  }

  async function call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) {
    return requestJson(options.outbound, `${base}${path}`, {
      method,
      headers: { authorization: `Ghost ${await token()}`, 'accept-version': 'v5.0' },
      body,
    });
  }

  const firstPost = (json: unknown): GhostPost | undefined =>
    (json as { posts?: GhostPost[] } | undefined)?.posts?.[0];

  async function findBySlug(slug: string): Promise<GhostPost | undefined> {
    const response = await call('GET', `/posts/slug/${encodeURIComponent(slug)}/?formats=html`);
    if (response.status === 404) return undefined;
    if (response.status !== 200)
      throw new GhostError(`Ghost answered ${response.status} looking up slug ${slug}`);
    return firstPost(response.json);
  }

  async function readBack(id: string): Promise<GhostPost> {
    const response = await call('GET', `/posts/${encodeURIComponent(id)}/?formats=html`);
    const post = firstPost(response.json);
    if (response.status !== 200 || !post)
      throw new GhostError(`Ghost answered ${response.status} reading post ${id} back`, id);
    return post;
  }

  return {
    token,

    /** Publishes (or finishes publishing) the post with this slug and returns it as Ghost stored it. */
    async publish(input: { title: string; slug: string; html: string; tags: string[] }): Promise<GhostPost> {
      const existing = await findBySlug(input.slug);
      let id: string;
      if (existing && (existing.html ?? '').trim() !== '') {
        // Published before (a retry after a crash, or by hand): never a second copy.
        return existing;
      }
      if (existing) {
        // Ours from an earlier attempt that stored an empty body: fill it in place.
        const response = await call('PUT', `/posts/${encodeURIComponent(existing.id)}/?source=html`, {
          posts: [
            { title: input.title, html: input.html, status: 'published', updated_at: existing.updated_at },
          ],
        });
        if (response.status !== 200) {
          throw new GhostError(`Ghost answered ${response.status} updating post ${existing.id}`, existing.id);
        }
        id = existing.id;
      } else {
        const response = await call('POST', '/posts/?source=html', {
          posts: [
            {
              title: input.title,
              slug: input.slug,
              html: input.html,
              status: 'published',
              tags: input.tags.map((name) => ({ name })),
            },
          ],
        });
        const created = firstPost(response.json);
        if (response.status !== 201 || !created) {
          throw new GhostError(
            `Ghost answered ${response.status} creating the post: ${response.text.slice(0, 200)}`,
          );
        }
        id = created.id;
      }
      const stored = await readBack(id);
      if ((stored.html ?? '').trim() === '') {
        throw new GhostError(
          `Ghost stored post ${id} with an empty body (read back after publishing); it is not live content`,
          id,
        );
      }
      return stored;
    },
  };
}

export type GhostClient = ReturnType<typeof createGhostClient>;
