import { createHash } from 'node:crypto';
import bwipjs from 'bwip-js/node';
import QRCode from 'qrcode';

/**
 * Images and barcodes reach the two engines differently: Typst reads files (mapped into its virtual
 * workspace, never the real disk), Chromium reads data URIs. A sink hides which.
 */
export interface AssetSink {
  /** A `data:image/...;base64,...` URI → what the template passes to `image()` / `<img src>`. */
  image(dataUri: string): string;
  svg(svg: string): string;
  readonly files: [string, Uint8Array][];
}

const imageTypes: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'image/svg+xml': 'svg',
  'image/webp': 'webp',
};

const dataUriPattern = /^data:(image\/[a-z0-9.+-]+)(;[a-z0-9=.+-]+)*?(;base64)?,/i;

export class AssetError extends Error {}

function decodeDataUri(uri: string): { type: string; bytes: Buffer } {
  const match = dataUriPattern.exec(uri);
  const type = match?.[1]?.toLowerCase();
  if (!match || !type || !imageTypes[type]) {
    throw new AssetError('images must be data URIs of PNG, JPEG, GIF, WebP or SVG');
  }
  const payload = uri.slice(match[0].length);
  const bytes = match[3] ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'utf8');
  if (bytes.length === 0) throw new AssetError('an image data URI is empty');
  return { type, bytes };
}

export function typstAssetSink(): AssetSink {
  const files = new Map<string, Uint8Array>();
  const store = (bytes: Buffer, extension: string) => {
    const path = `/assets/${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}.${extension}`;
    files.set(path, bytes);
    return path;
  };
  return {
    image(uri) {
      const { type, bytes } = decodeDataUri(uri);
      return store(bytes, imageTypes[type]!);
    },
    svg(svg) {
      return store(Buffer.from(svg, 'utf8'), 'svg');
    },
    get files() {
      return [...files];
    },
  };
}

export function htmlAssetSink(): AssetSink {
  return {
    image(uri) {
      decodeDataUri(uri);
      return uri;
    },
    svg(svg) {
      return `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`;
    },
    files: [],
  };
}

export const barcodeTypes = ['qrcode', 'code128', 'ean13', 'upca', 'code39', 'datamatrix', 'pdf417'] as const;
export type BarcodeType = (typeof barcodeTypes)[number];

/** A barcode as SVG: vector output, so it stays sharp at any zoom and prints crisply. */
export async function barcodeSvg(type: BarcodeType, text: string): Promise<string> {
  if (type === 'qrcode') return QRCode.toString(text, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
  try {
    return bwipjs.toSVG({
      bcid: type,
      text,
      scale: 2,
      ...(type === 'datamatrix' || type === 'pdf417' ? {} : { height: 12, includetext: true }),
    });
  } catch (error) {
    throw new AssetError(
      `cannot encode "${text.slice(0, 40)}" as ${type}: ${String((error as Error).message)}`,
    );
  }
}

function isBarcodeRequest(value: unknown): value is { $barcode: { type: BarcodeType; text: string } } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== '$barcode') return false;
  const spec = (value as { $barcode: unknown }).$barcode as { type?: unknown; text?: unknown } | null;
  return (
    typeof spec === 'object' &&
    spec !== null &&
    typeof spec.text === 'string' &&
    barcodeTypes.includes(spec.type as BarcodeType)
  );
}

/**
 * For custom templates: every image data URI in the data becomes something the engine can load, and every
 * `{"$barcode": {"type": "qrcode", "text": "…"}}` becomes a generated barcode image, wherever they sit.
 */
export async function materializeAssets(value: unknown, sink: AssetSink): Promise<unknown> {
  if (typeof value === 'string') return dataUriPattern.test(value) ? sink.image(value) : value;
  if (Array.isArray(value)) return Promise.all(value.map((item) => materializeAssets(item, sink)));
  if (isBarcodeRequest(value)) return sink.svg(await barcodeSvg(value.$barcode.type, value.$barcode.text));
  if (typeof value === 'object' && value !== null) {
    const entries = await Promise.all(
      Object.entries(value).map(async ([key, item]) => [key, await materializeAssets(item, sink)] as const),
    );
    return Object.fromEntries(entries);
  }
  return value;
}
