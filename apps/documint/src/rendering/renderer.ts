import { AppError } from '@studio/service-kit';
import Handlebars from 'handlebars';
import { type ChromiumEngine, ChromiumUnavailableError } from '../engines/chromium';
import { type TypstPool, TypstPoolBusyError, TypstTemplateError } from '../engines/typst-pool';
import type { BuiltinTemplate, ChromiumPageOptions } from '../templates/builtins';
import { facturxProblems, facturxXml } from '../templates/facturx';
import { type InvoiceData, invoiceProblems } from '../templates/invoice';
import { AssetError, htmlAssetSink, materializeAssets, typstAssetSink } from './assets';
import { addFacturxXmp } from './facturx-xmp';
import type { DataValidator } from './validation';

export type Engine = 'typst' | 'chromium';
export type OutputFormat = 'pdf' | 'pdf/a-2b' | 'factur-x';

/** A template ready to render: a built-in, or one version of an account's template. */
export type ResolvedTemplate =
  | { kind: 'builtin'; builtin: BuiltinTemplate }
  | {
      kind: 'custom';
      templateId: string;
      version: number;
      engine: Engine;
      source: string;
      schema: Record<string, unknown>;
    };

export interface RenderedDocument {
  pdf: Buffer;
  pages: number;
  engine: Engine;
}

// Every Typst document starts with this: the bundled font, and the request's data (validated JSON, passed
// as an input string, so data is never spliced into Typst source).
const typstPreamble = `#set text(font: "DejaVu Sans", size: 10pt)
#let data = json(bytes(sys.inputs.data))
`;

const xmlAttachment = `
#pdf.attach("factur-x.xml", read("/factur-x.xml", encoding: none), relationship: "alternative", mime-type: "text/xml", description: "Factur-X / ZUGFeRD invoice (EN 16931)")
`;

export interface RendererOptions {
  typst: TypstPool;
  chromium: ChromiumEngine;
  validator: DataValidator;
  now: () => Date;
}

export class Renderer {
  private readonly handlebars = Handlebars.create();
  private readonly compiledHtml = new Map<string, HandlebarsTemplateDelegate>();

  constructor(private readonly options: RendererOptions) {}

  /** Throws a 422 listing every problem; nothing is rendered or counted for invalid data. */
  validate(template: ResolvedTemplate, data: unknown, format: OutputFormat, engine: Engine): void {
    const details =
      template.kind === 'builtin'
        ? this.options.validator.validate(`builtin:${template.builtin.name}`, template.builtin.schema, data)
        : this.options.validator.validate(
            `${template.templateId}@${template.version}`,
            template.schema,
            data,
          );
    if (details.length > 0) {
      throw new AppError(
        'unprocessable',
        `The data does not match the template's schema (${details.length} problem${details.length === 1 ? '' : 's'})`,
        details,
      );
    }
    if (template.kind === 'builtin' && template.builtin.name === 'invoice') {
      const problems = invoiceProblems(data as InvoiceData);
      if (problems.length > 0) {
        throw new AppError('unprocessable', 'The invoice is not consistent', problems);
      }
    }
    if (format === 'factur-x') {
      if (template.kind !== 'builtin' || template.builtin.name !== 'invoice') {
        throw new AppError(
          'unprocessable',
          'format factur-x is only available for the built-in invoice template',
          [{ path: '/format', message: 'factur-x needs template "invoice"' }],
        );
      }
      const problems = facturxProblems(data as InvoiceData);
      if (problems.length > 0) {
        throw new AppError(
          'unprocessable',
          'The invoice lacks what EN 16931 requires for Factur-X',
          problems,
        );
      }
    }
    if (format !== 'pdf' && engine === 'chromium') {
      throw new AppError('unprocessable', `format ${format} is produced by the Typst engine only`, [
        { path: '/engine', message: `use engine "typst" for ${format}` },
      ]);
    }
  }

  engineFor(template: ResolvedTemplate, requested: Engine | undefined): Engine {
    if (template.kind === 'custom') {
      if (requested && requested !== template.engine) {
        throw new AppError(
          'unprocessable',
          `template ${template.templateId} is a ${template.engine} template`,
          [{ path: '/engine', message: `must be "${template.engine}" for this template` }],
        );
      }
      return template.engine;
    }
    return requested ?? 'typst';
  }

  async render(
    template: ResolvedTemplate,
    data: unknown,
    format: OutputFormat,
    engine: Engine,
  ): Promise<RenderedDocument> {
    try {
      return engine === 'typst'
        ? await this.renderTypst(template, data, format)
        : await this.renderChromium(template, data);
    } catch (error) {
      throw toAppError(error, this.options.chromium);
    }
  }

  private async renderTypst(
    template: ResolvedTemplate,
    data: unknown,
    format: OutputFormat,
  ): Promise<RenderedDocument> {
    const sink = typstAssetSink();
    const view =
      template.kind === 'builtin'
        ? await template.builtin.view(data, sink)
        : await materializeAssets(data, sink);
    const body = template.kind === 'builtin' ? template.builtin.typst : template.source;
    const files = sink.files;
    let source = typstPreamble + body;
    if (format === 'factur-x') {
      files.push(['/factur-x.xml', Buffer.from(facturxXml(data as InvoiceData), 'utf8')]);
      source += xmlAttachment;
    }
    const output = await this.options.typst.render({
      source,
      inputs: { data: JSON.stringify(view) },
      files,
      ...(format === 'pdf/a-2b' ? { pdfStandard: 'a-2b' as const } : {}),
      ...(format === 'factur-x' ? { pdfStandard: 'a-3b' as const } : {}),
      timestamp: Math.floor(this.options.now().getTime() / 1000),
    });
    if (format === 'factur-x') return { ...output, pdf: addFacturxXmp(output.pdf), engine: 'typst' };
    return { ...output, engine: 'typst' };
  }

  private async renderChromium(template: ResolvedTemplate, data: unknown): Promise<RenderedDocument> {
    const { chromium } = this.options;
    if (!chromium.installed) throw new ChromiumUnavailableError(chromium.unavailableMessage());
    const sink = htmlAssetSink();
    let html: string;
    let page: ChromiumPageOptions;
    if (template.kind === 'builtin') {
      const view = await template.builtin.view(data, sink);
      html = this.html(`builtin:${template.builtin.name}`, template.builtin.html)(view);
      page = template.builtin.chromiumPage(view);
      if (page.headerTemplate)
        page = {
          ...page,
          headerTemplate: this.html(`builtin-header:${template.builtin.name}`, page.headerTemplate)(view),
        };
      if (page.footerTemplate)
        page = {
          ...page,
          footerTemplate: this.html(`builtin-footer:${template.builtin.name}`, page.footerTemplate)(view),
        };
    } else {
      const view = await materializeAssets(data, sink);
      html = this.html(`${template.templateId}@${template.version}`, template.source)(view);
      page = {};
    }
    const output = await chromium.render(html, page);
    return { ...output, engine: 'chromium' };
  }

  private html(key: string, source: string): HandlebarsTemplateDelegate {
    let compiled = this.compiledHtml.get(key);
    if (!compiled) {
      compiled = this.handlebars.compile(source, { strict: false });
      if (this.compiledHtml.size > 500) this.compiledHtml.clear();
      this.compiledHtml.set(key, compiled);
    }
    return compiled;
  }

  /** Null when a Handlebars source parses; otherwise the parser's message. Checked before a version is stored. */
  checkHandlebars(source: string): string | null {
    try {
      this.handlebars.precompile(source);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }
}

function toAppError(error: unknown, chromium: ChromiumEngine): unknown {
  if (error instanceof AppError) return error;
  if (error instanceof TypstTemplateError) {
    const what =
      error.kind === 'export' ? 'The document could not be exported' : 'The template failed to render';
    return new AppError('unprocessable', `${what}: ${error.message}`);
  }
  if (error instanceof AssetError) return new AppError('unprocessable', error.message);
  if (error instanceof TypstPoolBusyError)
    return new AppError('service_unavailable', error.message, undefined, { 'retry-after': '1' });
  if (error instanceof ChromiumUnavailableError) {
    return new AppError('service_unavailable', error.message || chromium.unavailableMessage());
  }
  if (error instanceof Error && /Handlebars|Parse error|Missing helper/i.test(error.message)) {
    return new AppError('unprocessable', `The template failed to render: ${error.message.split('\n')[0]}`);
  }
  return error;
}
