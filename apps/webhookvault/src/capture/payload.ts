/**
 * What a capture seals: the request as received. Encoded as `[u32 length of meta JSON][meta JSON][body bytes]`
 * so the body stays raw bytes (no base64 inflation) and the whole record is one AES-GCM message.
 */
export interface CapturedRequest {
  /** The sub-path after `/h/<token>`, exactly as received (percent-encoding kept), `''` or starting with `/`. */
  path: string;
  /** The raw query string without `?`, exactly as received; `''` when there was none. */
  query: string;
  /** Header names and values in received order, repeats kept (Node's `rawHeaders`, paired). */
  headers: [string, string][];
  remoteAddress: string;
  body: Buffer;
}

export function encodeCapturedRequest(request: CapturedRequest): Buffer {
  const meta = Buffer.from(
    JSON.stringify({
      path: request.path,
      query: request.query,
      headers: request.headers,
      remoteAddress: request.remoteAddress,
    }),
    'utf8',
  );
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(meta.length, 0);
  return Buffer.concat([length, meta, request.body]);
}

export function decodeCapturedRequest(encoded: Buffer): CapturedRequest {
  const metaLength = encoded.readUInt32BE(0);
  const meta = JSON.parse(encoded.subarray(4, 4 + metaLength).toString('utf8')) as Omit<
    CapturedRequest,
    'body'
  >;
  return { ...meta, body: Buffer.from(encoded.subarray(4 + metaLength)) };
}

/** Pairs Node's flat `rawHeaders` list, leaving out the names (lower case) in `omit`. */
export function pairHeaders(rawHeaders: readonly string[], omit?: ReadonlySet<string>): [string, string][] {
  const pairs: [string, string][] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    const name = rawHeaders[index]!;
    if (omit?.has(name.toLowerCase())) continue;
    pairs.push([name, rawHeaders[index + 1]!]);
  }
  return pairs;
}
