import { readFileSync } from 'node:fs';
import { buildApp } from './app';
import type { Config } from './config';
import { parseFrontMatter } from './content/pipeline';
import { hashPassword } from './owner/password';

/**
 * `ops-agent hash-password | audit | queue | approve <id> | reject <id> | post <file.md>`: the automation API
 * from a shell. Commands other than hash-password build the app in-process on the agent's own SQLite file
 * (WAL lets them run beside the server) and call the same routes, with the same checks.
 */
export const agentCommands = ['hash-password', 'audit', 'queue', 'approve', 'reject', 'post'] as const;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
}

export function isAgentCommand(command: string | undefined): boolean {
  return (agentCommands as readonly string[]).includes(command ?? '');
}

export async function runAgentCli(args: string[], loadConfig: () => Config, io: CliIo): Promise<number> {
  const [command, argument] = args;
  if (command === 'hash-password') {
    const password = (await io.readStdin()).replace(/\r?\n$/, '');
    if (password.length < 12) {
      io.stderr('hash-password: give a password of at least 12 characters on standard input\n');
      return 64;
    }
    io.stdout(`${await hashPassword(password)}\n`);
    return 0;
  }
  if ((command === 'approve' || command === 'reject' || command === 'post') && !argument) {
    io.stderr(`usage: ops-agent ${command} <${command === 'post' ? 'file.md' : 'queue item id'}>\n`);
    return 64;
  }
  const config = loadConfig();
  const app = await buildApp(config, { logger: false, startScheduler: false });
  try {
    const headers = { authorization: `Bearer ${config.OPS_ADMIN_TOKEN}` };
    let response: Awaited<ReturnType<typeof app.inject>>;
    if (command === 'audit') response = await app.inject({ method: 'POST', url: '/audit', headers });
    else if (command === 'queue') response = await app.inject({ method: 'GET', url: '/queue', headers });
    else if (command === 'post') {
      const file = parseFrontMatter(readFileSync(argument!, 'utf8'));
      const title = file.title ?? /^#\s+(.+)$/m.exec(file.markdown)?.[1];
      if (!title) {
        io.stderr(`post: ${argument} has no title (front matter "title:" or a "# heading")\n`);
        return 65;
      }
      response = await app.inject({
        method: 'POST',
        url: '/posts',
        headers,
        payload: {
          title,
          markdown: file.markdown,
          ...(file.slug ? { slug: file.slug } : {}),
          ...(file.tags ? { tags: file.tags } : {}),
        },
      });
    } else
      response = await app.inject({
        method: 'POST',
        url: `/queue/${encodeURIComponent(argument!)}/${command}`,
        headers,
      });
    const body = response.json() as { status?: string };
    (response.statusCode < 400 ? io.stdout : io.stderr)(`${JSON.stringify(body, null, 2)}\n`);
    if (response.statusCode >= 400) return 1;
    // A failing audit exits non-zero so cron and CI can act on it.
    return command === 'audit' && body.status === 'fail' ? 2 : 0;
  } finally {
    await app.close();
  }
}
