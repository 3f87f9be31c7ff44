import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import type { ChromiumPageOptions } from '../templates/builtins';

/** Chromium is not installed (or cannot start): HTML templates answer 503 with how to enable them. */
export class ChromiumUnavailableError extends Error {}

export interface ChromiumEngineOptions {
  executablePath: string;
  /** Warm pages kept open; also the number of concurrent HTML renders. */
  pages: number;
  timeoutMs: number;
  fontFiles: string[];
}

// Fonts are served to the page from memory under a reserved name; every other request is refused, so a
// template can neither reach the network (SSRF) nor depend on the machine's fonts.
const fontOrigin = 'https://fonts.documint.invalid';

const launchArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
  // Request interception stops every request a template makes, but Chromium also preconnects (opens a TCP
  // connection with nothing sent) to hosts it sees in the page, below the interception. Sending everything,
  // loopback included, through a proxy address where nothing listens, and resolving no host name, leaves no
  // socket to any address a template names.
  '--proxy-server=http://127.0.0.1:9',
  '--proxy-bypass-list=<-loopback>',
  '--host-resolver-rules=MAP * ~NOTFOUND',
];

/** Counts the page objects of a PDF Chromium wrote (uncompressed object headers). */
export function countPdfPages(pdf: Buffer): number {
  return pdf.toString('latin1').match(/\/Type\s*\/Page(?![s\w])/g)?.length ?? 0;
}

/**
 * One browser, a few warm pages reused across documents. A crashed page is replaced; a crashed or
 * disconnected browser is relaunched on the next render.
 */
export class ChromiumEngine {
  private browser: Browser | null = null;
  private context: BrowserContext | null = null;
  private launching: Promise<BrowserContext> | null = null;
  private readonly idle: Page[] = [];
  private open = 0;
  private readonly waiting: { resolve: (page: Page) => void; reject: (error: Error) => void }[] = [];
  private readonly fonts: Map<string, Buffer>;
  private readonly fontCss: string;
  private closed = false;
  relaunches = 0;

  constructor(private readonly options: ChromiumEngineOptions) {
    this.fonts = new Map(options.fontFiles.map((file) => [basename(file), readFileSync(file)]));
    const face = (family: string, file: string, weight: string, style: string) =>
      this.fonts.has(file)
        ? `@font-face{font-family:'${family}';src:url(${fontOrigin}/${file}) format('truetype');font-weight:${weight};font-style:${style}}`
        : '';
    this.fontCss = [
      face('DejaVu Sans', 'DejaVuSans.ttf', 'normal', 'normal'),
      face('DejaVu Sans', 'DejaVuSans-Bold.ttf', 'bold', 'normal'),
      face('DejaVu Sans', 'DejaVuSans-Oblique.ttf', 'normal', 'italic'),
      face('DejaVu Sans', 'DejaVuSans-BoldOblique.ttf', 'bold', 'italic'),
      face('DejaVu Serif', 'DejaVuSerif.ttf', 'normal', 'normal'),
      face('DejaVu Serif', 'DejaVuSerif-Bold.ttf', 'bold', 'normal'),
      face('DejaVu Serif', 'DejaVuSerif-Italic.ttf', 'normal', 'italic'),
      face('DejaVu Sans Mono', 'DejaVuSansMono.ttf', 'normal', 'normal'),
      'body{font-family:"DejaVu Sans"}',
    ].join('');
  }

  get installed(): boolean {
    return existsSync(this.options.executablePath);
  }

  unavailableMessage(): string {
    return `HTML templates need Chromium, which is not installed at ${this.options.executablePath}: install it (apt-get install chromium) or set CHROMIUM_PATH to a Chromium binary, then restart DocuMint. Typst templates work without it.`;
  }

  async render(html: string, page: ChromiumPageOptions): Promise<{ pdf: Buffer; pages: number }> {
    const tab = await this.acquire();
    let healthy = true;
    try {
      await tab.setContent(this.withFonts(html), { waitUntil: 'load', timeout: this.options.timeoutMs });
      const pdf = await tab.pdf({
        printBackground: true,
        preferCSSPageSize: true,
        ...(page.format ? { format: page.format } : { format: 'A4' }),
        ...(page.margin ? { margin: page.margin } : {}),
        displayHeaderFooter: Boolean(page.headerTemplate || page.footerTemplate),
        headerTemplate: page.headerTemplate ?? '<span></span>',
        footerTemplate: page.footerTemplate ?? '<span></span>',
      });
      return { pdf, pages: countPdfPages(pdf) };
    } catch (error) {
      healthy = false;
      throw error;
    } finally {
      this.release(tab, healthy);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const browser = this.browser;
    this.browser = null;
    this.context = null;
    this.idle.length = 0;
    await browser?.close().catch(() => undefined);
  }

  private withFonts(html: string): string {
    const style = `<style>${this.fontCss}</style>`;
    const head = /<head[^>]*>/i.exec(html);
    if (head)
      return html.slice(0, head.index + head[0].length) + style + html.slice(head.index + head[0].length);
    return style + html;
  }

  private async launch(): Promise<BrowserContext> {
    if (!this.installed) throw new ChromiumUnavailableError(this.unavailableMessage());
    const browser = await chromium
      .launch({ executablePath: this.options.executablePath, args: launchArgs, headless: true })
      .catch((error: Error) => {
        throw new ChromiumUnavailableError(
          `Chromium at ${this.options.executablePath} failed to start: ${error.message.split('\n')[0]}`,
        );
      });
    browser.on('disconnected', () => {
      if (this.browser !== browser) return;
      this.browser = null;
      this.context = null;
      this.idle.length = 0;
      this.open = 0;
      this.relaunches += 1;
    });
    // Templates are static documents: no JavaScript, no network.
    const context = await browser.newContext({ javaScriptEnabled: false });
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (url.startsWith(`${fontOrigin}/`)) {
        const font = this.fonts.get(url.slice(fontOrigin.length + 1));
        if (font) return route.fulfill({ status: 200, contentType: 'font/ttf', body: font });
      }
      return route.abort('blockedbyclient');
    });
    this.browser = browser;
    this.context = context;
    return context;
  }

  private async ensureContext(): Promise<BrowserContext> {
    if (this.context && this.browser?.isConnected()) return this.context;
    this.launching ??= this.launch().finally(() => {
      this.launching = null;
    });
    return this.launching;
  }

  private async acquire(): Promise<Page> {
    if (this.closed) throw new ChromiumUnavailableError('the Chromium engine is shutting down');
    const context = await this.ensureContext();
    const page = this.idle.pop();
    if (page && !page.isClosed()) return page;
    if (this.open < this.options.pages) {
      this.open += 1;
      try {
        const fresh = await context.newPage();
        fresh.on('crash', () => void fresh.close().catch(() => undefined));
        return fresh;
      } catch (error) {
        this.open -= 1;
        throw error;
      }
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private release(page: Page, healthy: boolean) {
    if (!healthy || page.isClosed() || !this.browser?.isConnected()) {
      void page.close().catch(() => undefined);
      this.open = Math.max(0, this.open - 1);
      // The slot is free again: the next waiter opens a fresh page (relaunching the browser if needed).
      const next = this.waiting.shift();
      if (next) this.acquire().then(next.resolve, next.reject);
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(page);
    else this.idle.push(page);
  }
}
