import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceSample } from '../src/templates/invoice';
import { type Harness, pdfTool, startHarness } from './harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

async function createDocument(auth: { authorization: string }, extra: Record<string, unknown> = {}) {
  const response = await harness.app.inject({
    method: 'POST',
    url: '/v1/documents',
    headers: { ...auth, accept: 'application/json' },
    payload: { template: 'invoice', data: invoiceSample, ...extra },
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as { id: string; url: string; expiresAt: string; pages: number; sha256: string };
}

const download = (url: string) =>
  harness.app.inject({ method: 'GET', url: new URL(url).pathname + new URL(url).search });

describe('stored documents', () => {
  it('answers JSON with the id and a signed link that downloads the PDF without the API key', async () => {
    const { auth } = harness.account();
    const document = await createDocument(auth);
    expect(document).toMatchObject({
      id: expect.stringMatching(/^doc_/),
      pages: 1,
      url: expect.stringContaining('/v1/downloads/'),
    });
    const response = await download(document.url);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('application/pdf');
    expect(pdfTool('pdftotext', response.rawPayload)).toContain('INV-2026-0042');
  });

  it("lists, describes, serves and deletes the account's documents", async () => {
    const { auth, accountId } = harness.account();
    const first = await createDocument(auth);
    harness.clock.advance(1000);
    const second = await createDocument(auth);
    const list = await harness.app.inject({ method: 'GET', url: '/v1/documents?limit=1', headers: auth });
    expect(list.statusCode).toBe(200);
    expect(list.json().documents.map((d: { id: string }) => d.id)).toEqual([second.id]);
    const next = await harness.app.inject({
      method: 'GET',
      url: `/v1/documents?limit=1&cursor=${list.json().nextCursor}`,
      headers: auth,
    });
    expect(next.json().documents.map((d: { id: string }) => d.id)).toEqual([first.id]);

    const meta = await harness.app.inject({ method: 'GET', url: `/v1/documents/${first.id}`, headers: auth });
    expect(meta.json()).toMatchObject({
      id: first.id,
      status: 'succeeded',
      template: 'invoice',
      format: 'pdf',
    });
    const pdf = await harness.app.inject({
      method: 'GET',
      url: `/v1/documents/${first.id}/pdf`,
      headers: auth,
    });
    expect(pdf.statusCode).toBe(200);
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');

    const file = join(harness.dataDir, 'documents', accountId, `${first.id}.pdf`);
    expect(existsSync(file)).toBe(true);
    const deleted = await harness.app.inject({
      method: 'DELETE',
      url: `/v1/documents/${first.id}`,
      headers: auth,
    });
    expect(deleted.statusCode).toBe(204);
    expect(existsSync(file)).toBe(false);
    expect(
      (await harness.app.inject({ method: 'GET', url: `/v1/documents/${first.id}`, headers: auth }))
        .statusCode,
    ).toBe(404);
    expect((await download(first.url)).statusCode).toBe(404);
  });

  it('expires a signed link after expiresIn seconds and refuses a tampered one', async () => {
    const { auth } = harness.account();
    const document = await createDocument(auth, { expiresIn: 60 });
    expect(new Date(document.expiresAt).getTime() - harness.clock.now().getTime()).toBeLessThanOrEqual(
      60_000,
    );
    const url = new URL(document.url);
    const tampered = new URL(url);
    tampered.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
    expect((await download(tampered.toString())).statusCode).toBe(403);
    const otherSignature = new URL(url);
    otherSignature.searchParams.set('signature', 'A'.repeat(43));
    expect((await download(otherSignature.toString())).statusCode).toBe(403);
    expect((await download(document.url)).statusCode).toBe(200);
    harness.clock.advance(61_000);
    const expired = await download(document.url);
    expect(expired.statusCode).toBe(410);
    expect(expired.json().error.code).toBe('gone');
  });

  it('refuses an expiresIn outside 1 minute to 7 days', async () => {
    const { auth } = harness.account();
    for (const expiresIn of [59, 604_801]) {
      const response = await harness.app.inject({
        method: 'POST',
        url: '/v1/documents',
        headers: auth,
        payload: { template: 'invoice', data: invoiceSample, expiresIn },
      });
      expect(response.statusCode, `expiresIn ${expiresIn}`).toBe(400);
      expect(response.json().error.details[0].path).toBe('/body/expiresIn');
    }
  });

  it("hides one account's documents from another account's key", async () => {
    const owner = harness.account();
    const stranger = harness.account();
    const document = await createDocument(owner.auth);
    for (const [method, url] of [
      ['GET', `/v1/documents/${document.id}`],
      ['GET', `/v1/documents/${document.id}/pdf`],
      ['DELETE', `/v1/documents/${document.id}`],
    ] as const) {
      const response = await harness.app.inject({ method, url, headers: stranger.auth });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
    }
    const list = await harness.app.inject({ method: 'GET', url: '/v1/documents', headers: stranger.auth });
    expect(list.json().documents).toEqual([]);
  });

  it("stops rendering with 402 once the plan's documents per month are used", async () => {
    const { auth, accountId } = harness.account('free');
    const account = harness.app.billing.repository.findAccount(accountId)!;
    harness.app.billing.consumeMonthly(account, 'rendersPerMonth', 100);
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: { template: 'invoice', data: invoiceSample },
    });
    expect(response.statusCode).toBe(402);
    expect(response.json().error.code).toBe('plan_limit_reached');
  });

  it("deletes documents past the plan's retention, and keeps younger ones", async () => {
    const free = harness.account('free');
    const pro = harness.account('pro');
    const old = await createDocument(free.auth);
    const kept = await createDocument(pro.auth);
    harness.clock.advance(8 * 86_400_000);
    const young = await createDocument(free.auth);
    expect(await harness.app.documint.sweepExpired()).toBeGreaterThanOrEqual(1);
    const status = async (auth: { authorization: string }, id: string) =>
      (await harness.app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers: auth })).statusCode;
    expect(await status(free.auth, old.id)).toBe(404);
    expect(await status(free.auth, young.id)).toBe(200);
    expect(await status(pro.auth, kept.id)).toBe(200);
  });

  it('renders a PNG preview of page 1', async () => {
    const { auth } = harness.account();
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents/preview',
      headers: auth,
      payload: { template: 'invoice', data: invoiceSample },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('image/png');
    expect(response.rawPayload.subarray(1, 4).toString()).toBe('PNG');
  });

  it('counts one render per sync render, async render and preview, and none for refused data', async () => {
    const { auth, accountId } = harness.account();
    const used = () => harness.app.billing.usageOf(accountId).rendersPerMonth ?? 0;
    const before = used();
    const post = (url: string, payload: Record<string, unknown>) =>
      harness.app.inject({
        method: 'POST',
        url,
        headers: auth,
        payload: { template: 'invoice', ...payload },
      });
    expect((await post('/v1/documents', { data: invoiceSample })).statusCode).toBe(200);
    expect((await post('/v1/documents', { data: invoiceSample, async: true })).statusCode).toBe(202);
    expect((await post('/v1/documents/preview', { data: invoiceSample })).statusCode).toBe(200);
    expect(used() - before).toBe(3);
    const notAnObject = await post('/v1/documents', { data: ['not', 'an', 'object'] });
    expect(notAnObject.statusCode).toBe(400);
    expect(notAnObject.json().error.code).toBe('validation_failed');
    expect(JSON.stringify(notAnObject.json().error)).toContain('/body/data');
    expect((await post('/v1/documents', { data: { number: 'x' } })).statusCode).toBe(422);
    expect(used() - before).toBe(3);
  });
});

describe('account templates with versions', () => {
  const schema = {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1 }, code: { type: 'object' } },
  };
  const create = (auth: { authorization: string }, source: string) =>
    harness.app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: auth,
      payload: { name: 'Badge', engine: 'typst', source, schema },
    });
  const render = (auth: { authorization: string }, payload: Record<string, unknown>) =>
    harness.app.inject({ method: 'POST', url: '/v1/documents', headers: auth, payload });

  it('renders the latest published version by default and a draft when asked for by number', async () => {
    const { auth } = harness.account();
    const created = await create(auth, '= Version one for #data.name');
    expect(created.statusCode, created.body).toBe(201);
    const { id } = created.json();
    expect(created.json()).toEqual({ id, version: 1, status: 'draft' });

    const unpublished = await render(auth, { template: id, data: { name: 'Ada' } });
    expect(unpublished.statusCode).toBe(422);

    const draft = await render(auth, { template: id, version: 1, data: { name: 'Ada' } });
    expect(draft.statusCode, draft.body).toBe(200);
    expect(pdfTool('pdftotext', draft.rawPayload)).toContain('Version one for Ada');

    const publish = await harness.app.inject({
      method: 'POST',
      url: `/v1/templates/${id}/versions/1/publish`,
      headers: auth,
    });
    expect(publish.statusCode, publish.body).toBe(200);
    expect(publish.json().status).toBe('published');

    const second = await harness.app.inject({
      method: 'POST',
      url: `/v1/templates/${id}/versions`,
      headers: auth,
      payload: { source: '= Version two for #data.name', schema },
    });
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json()).toEqual({ version: 2, status: 'draft' });

    const latest = await render(auth, { template: id, data: { name: 'Ada' } });
    expect(pdfTool('pdftotext', latest.rawPayload)).toContain('Version one for Ada');
    await harness.app.inject({
      method: 'POST',
      url: `/v1/templates/${id}/versions/2/publish`,
      headers: auth,
    });
    const updated = await render(auth, { template: id, data: { name: 'Ada' } });
    expect(pdfTool('pdftotext', updated.rawPayload)).toContain('Version two for Ada');

    const version1 = await harness.app.inject({
      method: 'GET',
      url: `/v1/templates/${id}/versions/1`,
      headers: auth,
    });
    expect(version1.json()).toMatchObject({
      version: 1,
      status: 'published',
      source: '= Version one for #data.name',
    });
    const described = await harness.app.inject({ method: 'GET', url: `/v1/templates/${id}`, headers: auth });
    expect(described.json()).toMatchObject({
      id,
      publishedVersion: 2,
      versions: [{ version: 1 }, { version: 2 }],
    });
  });

  it("validates data against the version's schema and renders barcodes requested in the data", async () => {
    const { auth } = harness.account();
    const { id } = (await create(auth, '#data.name #image(data.code, width: 3cm)')).json();
    const invalid = await render(auth, { template: id, version: 1, data: { name: '' } });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json().error.details).toEqual([{ path: '/data/name', message: expect.any(String) }]);
    const ok = await render(auth, {
      template: id,
      version: 1,
      data: { name: 'Parcel', code: { $barcode: { type: 'code128', text: 'PARCEL-42' } } },
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(pdfTool('pdftotext', ok.rawPayload)).toContain('Parcel');
  });

  it('answers 422 with the compiler message for a template that does not compile', async () => {
    const { auth } = harness.account();
    const { id } = (await create(auth, '#let broken = (')).json();
    const response = await render(auth, { template: id, version: 1, data: { name: 'x' } });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.message).toMatch(/template failed to render/);
  });

  it('keeps a template from reading files outside its empty workspace', async () => {
    const { auth } = harness.account();
    const { id } = (await create(auth, '#read("/etc/passwd") #read("../../../../etc/passwd")')).json();
    const response = await render(auth, { template: id, version: 1, data: { name: 'x' } });
    expect(response.statusCode).toBe(422);
    expect(response.body).not.toContain('root:');
  });

  it('refuses a schema that is not valid JSON Schema', async () => {
    const { auth } = harness.account();
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: auth,
      payload: { name: 'Bad', engine: 'typst', source: 'x', schema: { type: 'not-a-type' } },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.details[0].path).toBe('/schema');
  });

  it("hides one account's templates from another account's key", async () => {
    const owner = harness.account();
    const stranger = harness.account();
    const { id } = (await create(owner.auth, '= Private')).json();
    expect(
      (await harness.app.inject({ method: 'GET', url: `/v1/templates/${id}`, headers: stranger.auth }))
        .statusCode,
    ).toBe(404);
    expect((await render(stranger.auth, { template: id, version: 1, data: { name: 'x' } })).statusCode).toBe(
      404,
    );
    const addVersion = await harness.app.inject({
      method: 'POST',
      url: `/v1/templates/${id}/versions`,
      headers: stranger.auth,
      payload: { source: 'x', schema },
    });
    expect(addVersion.statusCode).toBe(404);
    const publish = await harness.app.inject({
      method: 'POST',
      url: `/v1/templates/${id}/versions/1/publish`,
      headers: stranger.auth,
    });
    expect(publish.statusCode).toBe(404);
  });

  it("stops at the plan's template limit with 402", async () => {
    const { auth } = harness.account('free');
    for (let index = 0; index < 5; index += 1) expect((await create(auth, '= x')).statusCode).toBe(201);
    const sixth = await create(auth, '= x');
    expect(sixth.statusCode).toBe(402);
  });
});

describe('stored image assets', () => {
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
    'base64',
  );

  it('uploads an image once and uses it from data as "asset:<id>"', async () => {
    const { auth } = harness.account();
    const upload = await harness.app.inject({
      method: 'POST',
      url: '/v1/assets?name=logo',
      headers: { ...auth, 'content-type': 'image/png' },
      payload: png,
    });
    expect(upload.statusCode, upload.body).toBe(201);
    const { reference, id } = upload.json();
    expect(reference).toBe(`asset:${id}`);
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: { template: 'invoice', data: { ...invoiceSample, logo: reference } },
    });
    expect(response.statusCode, response.body).toBe(200);
    const list = await harness.app.inject({ method: 'GET', url: '/v1/assets', headers: auth });
    expect(list.json().assets).toEqual([
      expect.objectContaining({ id, name: 'logo', contentType: 'image/png' }),
    ]);
    expect(
      (await harness.app.inject({ method: 'DELETE', url: `/v1/assets/${id}`, headers: auth })).statusCode,
    ).toBe(204);
  });

  it("refuses another account's asset with a 422 naming the field, and a body that is not an image", async () => {
    const owner = harness.account();
    const stranger = harness.account();
    const { reference, id } = (
      await harness.app.inject({
        method: 'POST',
        url: '/v1/assets',
        headers: { ...owner.auth, 'content-type': 'image/png' },
        payload: png,
      })
    ).json();
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: stranger.auth,
      payload: { template: 'invoice', data: { ...invoiceSample, logo: reference } },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.details).toEqual([{ path: '/data/logo', message: `asset ${id} not found` }]);
    expect(
      (await harness.app.inject({ method: 'DELETE', url: `/v1/assets/${id}`, headers: stranger.auth }))
        .statusCode,
    ).toBe(404);
    const text = await harness.app.inject({
      method: 'POST',
      url: '/v1/assets',
      headers: { ...owner.auth, 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
  });
});
