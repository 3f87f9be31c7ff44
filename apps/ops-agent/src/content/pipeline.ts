import { AppError } from '@studio/service-kit';
import { marked } from 'marked';
import type { CycleAction } from '../cycles';
import { newId } from '../ids';
import type { Ops } from '../ops';
import { describeError } from '../outbound';
import type { PostRow, QueueItemRow } from '../repository';
import { createDevtoClient } from './devto';
import { createGhostClient, GhostError } from './ghost';
import { createListmonkClient } from './listmonk';
import { createPlausibleClient } from './plausible';

/**
 * The content pipeline: posts rendered from Markdown and published to Ghost; cross-post drafts and newsletter
 * campaigns that wait in the approval queue. Nothing leaves the studio without the owner's approval: an
 * approved Dev.to draft is posted through the Forem API, an approved newsletter campaign is started in
 * Listmonk, and channels without an API become "ready_by_hand" with the text to copy.
 */
export const crosspostChannels = ['devto', 'reddit', 'hackernews', 'indiehackers', 'x', 'listmonk'] as const;
export type Channel = (typeof crosspostChannels)[number];
const byHand = new Set<Channel>(['reddit', 'hackernews', 'indiehackers', 'x']);

export function slugify(title: string): string {
  return (
    title
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80) || 'post'
  );
}

export function renderMarkdown(markdown: string): string {
  return marked.parse(markdown, { async: false, gfm: true });
}

/**
 * Markdown files with front matter: `---\ntitle: …\nslug: …\ntags: [a, b]\n---\nbody`. Only flat `key: value`
 * lines are read; that is all a post needs, and it keeps a YAML parser out of the agent.
 */
export function parseFrontMatter(text: string): {
  title?: string;
  slug?: string;
  tags?: string[];
  markdown: string;
} {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!match) return { markdown: text };
  const fields: Record<string, string> = {};
  for (const line of (match[1] ?? '').split(/\r?\n/)) {
    const pair = /^([A-Za-z_]+):\s*(.*)$/.exec(line.trim());
    if (pair) fields[pair[1]!.toLowerCase()] = pair[2]!.trim().replace(/^["']|["']$/g, '');
  }
  const tags = fields.tags
    ?.replace(/^\[|\]$/g, '')
    .split(',')
    .map((tag) => tag.trim().replace(/^["']|["']$/g, ''))
    .filter(Boolean);
  return {
    ...(fields.title ? { title: fields.title } : {}),
    ...(fields.slug ? { slug: fields.slug } : {}),
    ...(tags ? { tags } : {}),
    markdown: match[2] ?? '',
  };
}

function stripMarkdown(markdown: string): string {
  return markdown
    .replace(/```[\s\S]*?```/g, '')
    .replace(/[#>*_`]/g, '')
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The text each channel gets: what the owner reviews and, for channels without an API, copies. */
export function draftFor(channel: Channel, post: PostRow): { title: string; body: string } {
  const link = post.url ?? `(${post.slug}: not published yet)`;
  const summary = stripMarkdown(post.markdown).slice(0, 280);
  switch (channel) {
    case 'devto':
      return { title: post.title, body: `${post.markdown}\n\n*Originally published at ${link}*` };
    case 'reddit':
    case 'indiehackers':
      return { title: post.title, body: `${summary}\n\nFull post: ${link}` };
    case 'hackernews':
      return { title: post.title, body: link };
    case 'x': {
      const room = 280 - link.length - 1;
      const text = post.title.length > room ? `${post.title.slice(0, room - 1)}…` : post.title;
      return { title: post.title, body: `${text} ${link}` };
    }
    case 'listmonk':
      return { title: post.title, body: `${post.html}\n<p><a href="${link}">Read it on the blog</a></p>` };
  }
}

export function toPostView(post: PostRow) {
  return {
    id: post.id,
    slug: post.slug,
    title: post.title,
    markdown: post.markdown,
    html: post.html,
    tags: JSON.parse(post.tags) as string[],
    status: post.status,
    ghostId: post.ghostId,
    url: post.url,
    error: post.lastError,
    createdAt: post.createdAt,
    publishedAt: post.publishedAt,
  };
}

export function toQueueView(item: QueueItemRow) {
  const { lastError, ...rest } = item;
  return { ...rest, error: lastError };
}

export function createPipeline(ops: Ops) {
  const { config, repo, clock, outbound } = ops;
  const { tokens } = ops;
  /**
   * Clients are built from the token in force at each use (the environment's, else the one stored on the
   * owner's page), and kept while that token stays the same.
   */
  function cached<Client>(build: () => { key: string; create: () => Client } | undefined) {
    let last: { key: string; client: Client } | undefined;
    return (): Client | undefined => {
      const wanted = build();
      if (!wanted) return undefined;
      if (last?.key !== wanted.key) last = { key: wanted.key, client: wanted.create() };
      return last.client;
    };
  }
  const ghostClient = cached(() => {
    const adminApiKey = tokens.get('GHOST_ADMIN_API_KEY');
    const url = config.GHOST_URL;
    if (!url || !adminApiKey) return undefined;
    return { key: adminApiKey, create: () => createGhostClient({ url, adminApiKey, outbound, clock }) };
  });
  const devtoClient = cached(() => {
    const apiKey = tokens.get('DEVTO_API_KEY');
    if (!apiKey) return undefined;
    return { key: apiKey, create: () => createDevtoClient({ url: config.DEVTO_URL, apiKey, outbound }) };
  });
  const listmonkClient = cached(() => {
    const token = tokens.get('LISTMONK_TOKEN');
    const { LISTMONK_URL: url, LISTMONK_USER: user } = config;
    if (!url || !user || !token) return undefined;
    return {
      key: token,
      create: () => createListmonkClient({ url, user, token, listIds: config.LISTMONK_LIST_IDS, outbound }),
    };
  });
  const plausibleClient = cached(() => {
    const apiKey = tokens.get('PLAUSIBLE_API_KEY');
    const { PLAUSIBLE_URL: url, PLAUSIBLE_SITE_ID: siteId } = config;
    if (!url || !siteId || !apiKey) return undefined;
    return { key: apiKey, create: () => createPlausibleClient({ url, apiKey, siteId, outbound }) };
  });

  const postOr404 = (id: string) => {
    const post = repo.post(id);
    if (!post) throw new AppError('not_found', `Post ${id} not found`);
    return post;
  };
  const itemOr404 = (id: string) => {
    const item = repo.queueItem(id);
    if (!item) throw new AppError('not_found', `Queue item ${id} not found`);
    return item;
  };

  /** Sends one approved item through its channel; failures leave it approved, to be retried by a cycle. */
  async function deliver(item: QueueItemRow): Promise<QueueItemRow> {
    const channel = item.channel as Channel;
    const save = (update: Parameters<typeof repo.setQueueStatus>[0]) =>
      repo.transaction(() => repo.setQueueStatus(update))();
    if (byHand.has(channel)) {
      save({ id: item.id, status: 'ready_by_hand' });
      return repo.queueItem(item.id)!;
    }
    try {
      if (channel === 'devto') {
        const devto = devtoClient();
        if (!devto)
          throw new Error('Dev.to is not configured (set DEVTO_API_KEY or store the key on the owner page)');
        const post = postOr404(item.postId);
        const article = await devto.publishArticle({
          title: item.title,
          bodyMarkdown: item.body,
          tags: JSON.parse(post.tags) as string[],
          canonicalUrl: post.url,
        });
        save({ id: item.id, status: 'sent', externalId: article.id, externalUrl: article.url });
      } else if (channel === 'listmonk') {
        const listmonk = listmonkClient();
        if (!listmonk)
          throw new Error('Listmonk is not configured (set LISTMONK_URL, LISTMONK_USER, LISTMONK_TOKEN)');
        let campaignId = item.externalId;
        if (!campaignId)
          campaignId = (
            await listmonk.createDraft({ name: item.title, subject: item.title, html: item.body })
          ).id;
        save({ id: item.id, status: 'approved', externalId: campaignId });
        await listmonk.start(campaignId);
        save({ id: item.id, status: 'sent', externalId: campaignId });
      }
    } catch (error) {
      save({ id: item.id, status: 'approved', lastError: describeError(error) });
      ops.log.warn({ queueItem: item.id, channel }, `delivery failed: ${describeError(error)}`);
    }
    return repo.queueItem(item.id)!;
  }

  return {
    get ghostConfigured() {
      return ghostClient() !== undefined;
    },
    /** The Plausible client when its URL, site id and key (environment or stored) are all there. */
    get plausible() {
      return plausibleClient();
    },

    createPost(input: { title: string; slug?: string; markdown: string; tags?: string[] }): PostRow {
      const slug = input.slug ?? slugify(input.title);
      if (repo.postIdBySlug(slug)) throw new AppError('conflict', `A post with slug ${slug} already exists`);
      const id = newId('post');
      repo.transaction(() =>
        repo.insertPost({
          id,
          slug,
          title: input.title,
          markdown: input.markdown,
          html: renderMarkdown(input.markdown),
          tags: JSON.stringify(input.tags ?? []),
          createdAt: clock.now().toISOString(),
        }),
      )();
      return repo.post(id)!;
    },

    async publish(id: string): Promise<{ ghostId: string; url: string; htmlLength: number }> {
      const post = postOr404(id);
      const ghost = ghostClient();
      if (!ghost)
        throw new AppError(
          'service_unavailable',
          'Ghost is not configured (set GHOST_URL, and GHOST_ADMIN_API_KEY or the key on the owner page)',
        );
      if (post.html.trim() === '') throw new AppError('unprocessable', 'The post renders to an empty body');
      try {
        const stored = await ghost.publish({
          title: post.title,
          slug: post.slug,
          html: post.html,
          tags: JSON.parse(post.tags) as string[],
        });
        repo.transaction(() =>
          repo.markPublished(post.id, stored.id, stored.url, clock.now().toISOString()),
        )();
        return { ghostId: stored.id, url: stored.url, htmlLength: (stored.html ?? '').length };
      } catch (error) {
        const message = describeError(error);
        repo.transaction(() =>
          repo.markPostFailed(post.id, message, error instanceof GhostError ? error.ghostId : null),
        )();
        throw new AppError('bad_gateway', `Publishing to Ghost failed: ${message}`);
      }
    },

    async crosspost(postId: string, channels: Channel[]): Promise<QueueItemRow[]> {
      const post = postOr404(postId);
      const ids: string[] = [];
      for (const channel of [...new Set(channels)]) {
        const draft = draftFor(channel, post);
        const id = repo.transaction(() =>
          repo.insertQueueItem({
            id: newId('q'),
            postId,
            kind: channel === 'listmonk' ? 'newsletter' : 'crosspost',
            channel,
            title: draft.title,
            body: draft.body,
            createdAt: clock.now().toISOString(),
          }),
        )();
        ids.push(id);
        const item = repo.queueItem(id)!;
        // The newsletter exists in Listmonk as a draft straight away (the owner can preview it there); it is
        // only started after approval.
        const listmonk = channel === 'listmonk' ? listmonkClient() : undefined;
        if (listmonk && !item.externalId && item.status === 'pending') {
          try {
            const campaign = await listmonk.createDraft({
              name: item.title,
              subject: item.title,
              html: item.body,
            });
            repo.transaction(() => repo.setQueueStatus({ id, status: 'pending', externalId: campaign.id }))();
          } catch (error) {
            repo.transaction(() =>
              repo.setQueueStatus({ id, status: 'pending', lastError: describeError(error) }),
            )();
          }
        }
      }
      return ids.map((id) => repo.queueItem(id)!);
    },

    edit(id: string, input: { title?: string; body?: string }): QueueItemRow {
      const item = itemOr404(id);
      if (item.status !== 'pending')
        throw new AppError('conflict', `Queue item ${id} is ${item.status}, not pending`);
      repo.transaction(() => repo.editQueueItem(id, input.title ?? item.title, input.body ?? item.body))();
      return repo.queueItem(id)!;
    },

    async approve(id: string, edits: { title?: string; body?: string } = {}): Promise<QueueItemRow> {
      const item = itemOr404(id);
      if (item.status !== 'pending')
        throw new AppError('conflict', `Queue item ${id} is ${item.status}, not pending`);
      repo.transaction(() => {
        if (edits.title !== undefined || edits.body !== undefined) {
          repo.editQueueItem(id, edits.title ?? item.title, edits.body ?? item.body);
        }
        repo.setQueueStatus({ id, status: 'approved', decidedAt: clock.now().toISOString() });
      })();
      return deliver(repo.queueItem(id)!);
    },

    reject(id: string): QueueItemRow {
      const item = itemOr404(id);
      if (item.status !== 'pending')
        throw new AppError('conflict', `Queue item ${id} is ${item.status}, not pending`);
      repo.transaction(() =>
        repo.setQueueStatus({ id, status: 'rejected', decidedAt: clock.now().toISOString() }),
      )();
      return repo.queueItem(id)!;
    },

    /** Recovery: posts whose publish failed (Ghost down, empty body stored) are published again. */
    async retryFailedPublishes(limit = 3): Promise<CycleAction[]> {
      if (!ghostClient()) return [];
      const failed = repo
        .listPosts()
        .filter((post) => post.status === 'failed')
        .slice(0, limit);
      const actions: CycleAction[] = [];
      for (const post of failed) {
        try {
          const result = await this.publish(post.id);
          actions.push({
            step: 'republish',
            outcome: `${post.slug}: published (${result.htmlLength} bytes of HTML)`,
          });
        } catch (error) {
          actions.push({ step: 'republish', outcome: `${post.slug}: ${describeError(error)}` });
        }
      }
      return actions;
    },

    /** The cycle's pipeline step: retry approved items whose delivery failed, as many as fit. */
    async runApproved(limit = 5): Promise<CycleAction[]> {
      const ids = repo.approvedQueueIds(limit);
      const actions: CycleAction[] = [];
      for (const id of ids) {
        const after = await deliver(repo.queueItem(id)!);
        actions.push({
          step: `queue ${after.channel}`,
          outcome: `${id}: ${after.status}${after.lastError ? ` (${after.lastError})` : ''}`,
        });
      }
      if (ids.length === 0) actions.push({ step: 'pipeline', outcome: 'nothing approved waiting' });
      return actions;
    },
  };
}

export type Pipeline = ReturnType<typeof createPipeline>;
