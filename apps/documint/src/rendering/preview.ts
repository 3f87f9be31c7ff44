import { spawn } from 'node:child_process';
import { AppError } from '@studio/service-kit';

/**
 * Page 1 of a PDF as PNG, rasterised by poppler's pdftoppm (Debian poppler-utils): the same picture for
 * both engines, from the same PDF the API would return.
 */
export function firstPageAsPng(
  pdf: Buffer,
  options: { binary?: string; dpi?: number; timeoutMs: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      options.binary ?? 'pdftoppm',
      ['-png', '-f', '1', '-l', '1', '-r', String(options.dpi ?? 96), '-singlefile', '-'],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        timeout: options.timeoutMs,
      },
    );
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-500);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new AppError(
              'service_unavailable',
              'Previews need pdftoppm: install poppler-utils (apt-get install poppler-utils) and restart DocuMint',
            )
          : error,
      );
    });
    child.on('close', (code) => {
      if (code === 0 && chunks.length > 0) resolve(Buffer.concat(chunks));
      else reject(new Error(`pdftoppm exited with ${code}: ${stderr.trim()}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(pdf);
  });
}
