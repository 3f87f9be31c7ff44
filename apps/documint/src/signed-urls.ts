import { createHmac, timingSafeEqual } from 'node:crypto';

export const MIN_EXPIRES_IN = 60;
export const MAX_EXPIRES_IN = 7 * 24 * 3600;
export const DEFAULT_EXPIRES_IN = 3600;

/**
 * Download links that work without the API key: `/v1/downloads/<id>?expires=<unix>&signature=<hmac>`, the
 * HMAC-SHA256 of `<id>.<expires>` under a key derived from INTERNAL_TOKEN (a separate purpose string, so
 * the derived key signs nothing else). Rotating INTERNAL_TOKEN invalidates every outstanding link.
 */
export function createUrlSigner(secret: string) {
  const key = createHmac('sha256', secret).update('documint download links v1').digest();
  const sign = (documentId: string, expires: number) =>
    createHmac('sha256', key).update(`${documentId}.${expires}`).digest('base64url');
  return {
    path(documentId: string, expires: number): string {
      return `/v1/downloads/${documentId}?expires=${expires}&signature=${sign(documentId, expires)}`;
    },
    /** 'ok', or why the link is refused. The signature is compared in constant time. */
    verify(
      documentId: string,
      expires: number,
      signature: string,
      nowSeconds: number,
    ): 'ok' | 'invalid' | 'expired' {
      const expected = Buffer.from(sign(documentId, expires));
      const given = Buffer.from(signature);
      if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
      return nowSeconds > expires ? 'expired' : 'ok';
    },
  };
}

export type UrlSigner = ReturnType<typeof createUrlSigner>;
