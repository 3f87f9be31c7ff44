import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * PDFs live as files under DATA_DIR/documents/<account>/<document>.pdf (ids are random base64url, so they
 * are safe as path segments). Written to a temporary name and renamed, so a reader never sees half a file.
 */
export function createDocumentStorage(dataDir: string) {
  const root = join(dataDir, 'documents');
  const pathOf = (accountId: string, documentId: string) => join(root, accountId, `${documentId}.pdf`);
  return {
    root,
    async write(accountId: string, documentId: string, pdf: Buffer): Promise<void> {
      await mkdir(join(root, accountId), { recursive: true });
      const path = pathOf(accountId, documentId);
      await writeFile(`${path}.tmp`, pdf);
      await rename(`${path}.tmp`, path);
    },
    read(accountId: string, documentId: string): Promise<Buffer> {
      return readFile(pathOf(accountId, documentId));
    },
    async remove(accountId: string, documentId: string): Promise<void> {
      await rm(pathOf(accountId, documentId), { force: true });
    },
  };
}

/** Uploaded images, under DATA_DIR/assets/<account>/<asset>. */
export function createAssetStorage(dataDir: string) {
  const root = join(dataDir, 'assets');
  const pathOf = (accountId: string, assetId: string) => join(root, accountId, assetId);
  return {
    async write(accountId: string, assetId: string, bytes: Buffer): Promise<void> {
      await mkdir(join(root, accountId), { recursive: true });
      const path = pathOf(accountId, assetId);
      await writeFile(`${path}.tmp`, bytes);
      await rename(`${path}.tmp`, path);
    },
    read(accountId: string, assetId: string): Promise<Buffer> {
      return readFile(pathOf(accountId, assetId));
    },
    async remove(accountId: string, assetId: string): Promise<void> {
      await rm(pathOf(accountId, assetId), { force: true });
    },
  };
}

export type AssetStorage = ReturnType<typeof createAssetStorage>;

export type DocumentStorage = ReturnType<typeof createDocumentStorage>;
