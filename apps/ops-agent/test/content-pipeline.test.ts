import { describe, expect, it } from 'vitest';
import { manualClock } from '../src/clock';
import { parseFrontMatter, slugify } from '../src/content/pipeline';
import { GHOST_ADMIN_API_KEY, startFakeGhost } from './ghost-fake';
import { admin, json, startAgent, startReceiver } from './harness';

const markdown = '# Hello\n\nThe *first* post, with a [link](https://example.com).\n';

async function setup(extra: Record<string, string> = {}) {
  const clock = manualClock('2026-11-24T10:00:00.000Z');
  const ghost = await startFakeGhost(clock);
  const agent = await startAgent({ GHOST_URL: ghost.url, GHOST_ADMIN_API_KEY, ...extra }, { clock });
  const createPost = async (body: object = { title: 'Hello, World!', markdown, tags: ['ops', 'sqlite'] }) => {
    const response = await agent.app.inject({ method: 'POST', url: '/posts', headers: admin, payload: body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  };
  const publish = (id: string) =>
    agent.app.inject({ method: 'POST', url: `/posts/${id}/publish`, headers: admin });
  return { ghost, ...agent, createPost, publish };
}

describe('publishing to Ghost', () => {
  it('publishes rendered HTML with ?source=html and a valid Admin API JWT, and reads it back', async () => {
    const { ghost, app, createPost, publish } = await setup();
    const post = await createPost();
    expect(post).toMatchObject({ status: 'draft', slug: 'hello-world', tags: ['ops', 'sqlite'] });
    expect(post.html).toContain('<em>first</em>');

    const response = await publish(post.id);
    expect(response.statusCode, response.body).toBe(200);
    const published = response.json();
    expect(published).toEqual({
      ghostId: 'ghost1',
      url: `${ghost.url}/hello-world/`,
      htmlLength: post.html.length,
    });
    const create = ghost.requests.find((request) => request.method === 'POST');
    expect(create?.url).toBe('/ghost/api/admin/posts/?source=html');
    expect(JSON.parse(create?.body ?? '{}').posts[0]).not.toHaveProperty('markdown');
    expect(ghost.requests.at(-1)?.url).toBe('/ghost/api/admin/posts/ghost1/?formats=html');

    const [listed] = (await app.inject({ method: 'GET', url: '/posts', headers: admin })).json().items;
    expect(listed).toMatchObject({ status: 'published', ghostId: 'ghost1', url: published.url, error: null });
    const audit = (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json();
    expect(audit.blog).toEqual({ status: 'pass', sitemapPosts: 1, publishedPosts: 1 });
  });

  it('treats Ghost’s 201 with an empty stored body as a failed step, then fills the same post on retry', async () => {
    const { ghost, app, createPost, publish } = await setup();
    const post = await createPost();
    ghost.options.ignoreHtml = true;
    const failed = await publish(post.id);
    expect(failed.statusCode).toBe(502);
    expect(failed.json().error.message).toMatch(/empty body/);
    const [listed] = (await app.inject({ method: 'GET', url: '/posts', headers: admin })).json().items;
    expect(listed).toMatchObject({ status: 'failed', ghostId: 'ghost1' });

    ghost.options.ignoreHtml = false;
    const retried = await publish(post.id);
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json().ghostId).toBe('ghost1');
    expect(ghost.posts.size).toBe(1);
    expect(ghost.posts.get('ghost1')?.html).toBe(post.html);
  });

  it('republishes a failed post as a recovery action of the next cycle', async () => {
    const { ghost, app, createPost, publish } = await setup();
    const post = await createPost();
    ghost.options.ignoreHtml = true;
    expect((await publish(post.id)).statusCode).toBe(502);
    ghost.options.ignoreHtml = false;
    const cycle = (await app.inject({ method: 'POST', url: '/cycles', headers: admin })).json();
    expect(cycle.actions).toContainEqual({
      step: 'republish',
      outcome: `hello-world: published (${post.html.length} bytes of HTML)`,
    });
    expect(ghost.posts.size).toBe(1);
  });

  it('never makes a duplicate when a retry finds the slug already published (a crash after Ghost answered)', async () => {
    const { ghost, createPost, publish, clock } = await setup();
    const post = await createPost({ title: 'Crash test', markdown });
    ghost.posts.set('ghost9', {
      id: 'ghost9',
      slug: 'crash-test',
      title: 'Crash test',
      html: post.html,
      url: `${ghost.url}/crash-test/`,
      updated_at: clock.now().toISOString(),
    });
    const response = await publish(post.id);
    expect(response.json()).toMatchObject({ ghostId: 'ghost9' });
    expect(ghost.requests.filter((request) => request.method !== 'GET')).toEqual([]);
    expect(ghost.posts.size).toBe(1);
  });

  it('answers 503 when Ghost is not configured, 404 for an unknown post and 409 for a taken slug', async () => {
    const { app } = await startAgent();
    const created = await app.inject({
      method: 'POST',
      url: '/posts',
      headers: admin,
      payload: { title: 'A', markdown },
    });
    const id = created.json().id;
    expect(
      (await app.inject({ method: 'POST', url: `/posts/${id}/publish`, headers: admin })).statusCode,
    ).toBe(503);
    expect(
      (await app.inject({ method: 'POST', url: '/posts/post_nope/publish', headers: admin })).statusCode,
    ).toBe(404);
    const again = await app.inject({
      method: 'POST',
      url: '/posts',
      headers: admin,
      payload: { title: 'A', markdown },
    });
    expect(again.statusCode).toBe(409);
    expect(
      (await app.inject({ method: 'POST', url: '/posts', payload: { title: 'B', markdown } })).statusCode,
    ).toBe(401);
    const invalid = await app.inject({
      method: 'POST',
      url: '/posts',
      headers: admin,
      payload: { title: 'C', slug: 'Not A Slug' },
    });
    expect(invalid.statusCode).toBe(400);
    expect(
      invalid
        .json()
        .error.details.map((detail: { path: string }) => detail.path)
        .sort(),
    ).toEqual(['/body/markdown', '/body/slug']);
  });

  it('reads Markdown files with front matter', () => {
    expect(
      parseFrontMatter('---\ntitle: "Glass, a history"\nslug: glass\ntags: [history, essays]\n---\n# Body\n'),
    ).toEqual({
      title: 'Glass, a history',
      slug: 'glass',
      tags: ['history', 'essays'],
      markdown: '# Body\n',
    });
    expect(slugify('Ça marche — 100 cycles in!')).toBe('ca-marche-100-cycles-in');
  });
});

describe('the approval queue', () => {
  async function queueSetup(devtoStatus = { value: 201 }) {
    const devto = await startReceiver((request, response) => {
      if (request.method === 'POST' && request.url === '/api/articles' && devtoStatus.value === 201) {
        json(response, 201, { id: 4242, url: 'https://dev.to/studio/hello-world-4242' });
      } else json(response, devtoStatus.value === 201 ? 404 : devtoStatus.value, { error: 'down' });
    });
    const listmonk = await startReceiver((request, response) => {
      if (request.method === 'POST' && request.url === '/api/campaigns')
        json(response, 200, { data: { id: 17, status: 'draft' } });
      else if (request.method === 'PUT' && request.url === '/api/campaigns/17/status')
        json(response, 200, { data: { id: 17, status: 'running' } });
      else json(response, 404, { message: 'not found' });
    });
    const context = await setup({
      DEVTO_URL: `${devto.url}/api`,
      DEVTO_API_KEY: 'devto-key',
      LISTMONK_URL: listmonk.url,
      LISTMONK_USER: 'ops',
      LISTMONK_TOKEN: 'listmonk-token',
    });
    const post = await context.createPost();
    await context.publish(post.id);
    const response = await context.app.inject({
      method: 'POST',
      url: `/posts/${post.id}/crosspost`,
      headers: admin,
      payload: { channels: ['devto', 'x', 'hackernews', 'listmonk'] },
    });
    expect(response.statusCode, response.body).toBe(201);
    const items = Object.fromEntries(
      response.json().items.map((item: { channel: string; id: string }) => [item.channel, item]),
    );
    const act = (id: string, action: 'approve' | 'reject', payload?: object) =>
      context.app.inject({
        method: 'POST',
        url: `/queue/${id}/${action}`,
        headers: admin,
        ...(payload ? { payload } : {}),
      });
    return { ...context, devto, listmonk, post, items, act };
  }

  it('holds every draft until the owner approves; nothing reaches Dev.to before', async () => {
    const { app, devto, listmonk, items } = await queueSetup();
    expect(Object.values(items).map((item) => (item as { status: string }).status)).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
    expect(items.listmonk).toMatchObject({ kind: 'newsletter', externalId: '17' });
    expect(items.x.body.length).toBeLessThanOrEqual(280);
    expect(devto.requests).toEqual([]);
    // The newsletter exists as a Listmonk draft, but was not started.
    expect(listmonk.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      'POST /api/campaigns',
    ]);
    const queue = (await app.inject({ method: 'GET', url: '/queue?status=pending', headers: admin })).json();
    expect(queue.items).toHaveLength(4);
  });

  it('posts an approved Dev.to draft through the Forem API, marks by-hand channels, starts the newsletter, records rejections', async () => {
    const { devto, listmonk, items, act, post } = await queueSetup();
    const approved = await act(items.devto.id, 'approve', { title: 'Hello from the studio' });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({
      status: 'sent',
      externalId: '4242',
      externalUrl: 'https://dev.to/studio/hello-world-4242',
    });
    const [sent] = devto.requests;
    expect(sent?.headers['api-key']).toBe('devto-key');
    expect(JSON.parse(sent?.body ?? '{}').article).toMatchObject({
      title: 'Hello from the studio',
      published: true,
      tags: ['ops', 'sqlite'],
      canonical_url: expect.stringContaining('/hello-world/'),
    });
    expect(JSON.parse(sent?.body ?? '{}').article.body_markdown).toContain(post.markdown.trim());

    expect((await act(items.x.id, 'approve')).json()).toMatchObject({ status: 'ready_by_hand' });
    expect((await act(items.hackernews.id, 'reject')).json()).toMatchObject({ status: 'rejected' });
    expect((await act(items.hackernews.id, 'approve')).statusCode).toBe(409);
    expect((await act(items.listmonk.id, 'approve')).json()).toMatchObject({
      status: 'sent',
      externalId: '17',
    });
    expect(listmonk.requests.at(-1)).toMatchObject({ method: 'PUT', url: '/api/campaigns/17/status' });
    expect(listmonk.requests.at(-1)?.headers.authorization).toBe('token ops:listmonk-token');
  });

  it('keeps an approved draft whose channel is down, and a later cycle sends it', async () => {
    const devtoStatus = { value: 503 };
    const { app, items, act } = await queueSetup(devtoStatus);
    const approved = (await act(items.devto.id, 'approve')).json();
    expect(approved).toMatchObject({
      status: 'approved',
      error: expect.stringMatching(/Dev.to answered 503/),
    });
    devtoStatus.value = 201;
    const cycle = (await app.inject({ method: 'POST', url: '/cycles', headers: admin })).json();
    expect(cycle.actions).toContainEqual({ step: 'queue devto', outcome: `${items.devto.id}: sent` });
  });

  it('lets the owner edit a pending draft, and 404s an unknown item', async () => {
    const { app, items, act } = await queueSetup();
    const edited = await app.inject({
      method: 'PUT',
      url: `/queue/${items.x.id}`,
      headers: admin,
      payload: { body: 'New text' },
    });
    expect(edited.json()).toMatchObject({ body: 'New text', status: 'pending' });
    expect((await act('q_nope', 'approve')).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: `/queue/${items.x.id}/approve` })).statusCode).toBe(401);
  });
});
