import { jwtVerify } from 'jose';
import type { Clock } from '../src/clock';
import { json, startReceiver } from './harness';

export const GHOST_KEY_ID = '6748592f4b9b7700010f6564';
export const GHOST_SECRET_HEX = 'b1b5b9c1d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1';
export const GHOST_ADMIN_API_KEY = `${GHOST_KEY_ID}:${GHOST_SECRET_HEX}`;

interface StoredPost {
  id: string;
  slug: string;
  title: string;
  html: string;
  url: string;
  updated_at: string;
}

/**
 * A local server speaking the Ghost 5 Admin API for posts, including its trap: without `?source=html` the
 * post is stored with an empty body (Ghost ignores `markdown` and converts nothing), and still answered 201.
 * `ignoreHtml` makes it store empty bodies even with the parameter, as a broken adapter or version would.
 */
export async function startFakeGhost(clock: Clock) {
  const posts = new Map<string, StoredPost>();
  const options = { ignoreHtml: false };
  let next = 1;
  const ghost = await startReceiver(async (request, response) => {
    const url = new URL(request.url, 'http://ghost.local');
    if (url.pathname === '/sitemap-posts.xml') {
      const body = [...posts.values()].map((post) => `<url><loc>${post.url}</loc></url>`).join('');
      response.writeHead(200, { 'content-type': 'text/xml' }).end(`<urlset>${body}</urlset>`);
      return;
    }
    const auth = /^Ghost (.+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
    try {
      if (!auth) throw new Error('no token');
      const { protectedHeader } = await jwtVerify(auth, Buffer.from(GHOST_SECRET_HEX, 'hex'), {
        audience: '/admin/',
        algorithms: ['HS256'],
        currentDate: clock.now(),
        maxTokenAge: '5m',
      });
      if (protectedHeader.kid !== GHOST_KEY_ID) throw new Error('unknown kid');
    } catch (error) {
      json(response, 401, {
        errors: [{ message: `Authorization failed: ${(error as Error).message}`, type: 'UnauthorizedError' }],
      });
      return;
    }
    const sourceHtml = url.searchParams.get('source') === 'html' && !options.ignoreHtml;
    const view = (post: StoredPost) => ({ posts: [{ ...post, html: post.html === '' ? null : post.html }] });
    const bySlug = /^\/ghost\/api\/admin\/posts\/slug\/([^/]+)\/$/.exec(url.pathname);
    const byId = /^\/ghost\/api\/admin\/posts\/([^/]+)\/$/.exec(url.pathname);
    if (request.method === 'POST' && url.pathname === '/ghost/api/admin/posts/') {
      const input = (
        JSON.parse(request.body) as { posts: Array<{ title: string; slug: string; html?: string }> }
      ).posts[0]!;
      const post: StoredPost = {
        id: `ghost${next++}`,
        slug: input.slug,
        title: input.title,
        html: sourceHtml ? (input.html ?? '') : '',
        url: `${ghost.url}/${input.slug}/`,
        updated_at: clock.now().toISOString(),
      };
      posts.set(post.id, post);
      json(response, 201, view(post));
    } else if (request.method === 'GET' && bySlug) {
      const post = [...posts.values()].find((candidate) => candidate.slug === bySlug[1]);
      if (post) json(response, 200, view(post));
      else json(response, 404, { errors: [{ message: 'Post not found.', type: 'NotFoundError' }] });
    } else if (byId) {
      const post = posts.get(byId[1]!);
      if (!post)
        return json(response, 404, { errors: [{ message: 'Post not found.', type: 'NotFoundError' }] });
      if (request.method === 'PUT') {
        const input = (JSON.parse(request.body) as { posts: Array<{ html?: string; updated_at?: string }> })
          .posts[0]!;
        if (input.updated_at !== post.updated_at) {
          return json(response, 409, {
            errors: [
              { message: 'Saving failed! Someone else is editing this post.', type: 'UpdateCollisionError' },
            ],
          });
        }
        post.html = sourceHtml ? (input.html ?? '') : '';
        post.updated_at = clock.now().toISOString();
      }
      json(response, 200, view(post));
    } else json(response, 404, { errors: [{ message: 'Resource not found', type: 'NotFoundError' }] });
  });
  return { ...ghost, posts, options };
}
