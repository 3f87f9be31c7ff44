import { describe, expect, it } from 'vitest';
import { filteredKind } from '../src/monitor/keywords';
import { startApp } from './harness';

const filter = {
  filterSubject: false,
  filterBody: true,
  startKw: 'STARTING',
  successKw: 'SUCCESS, all good',
  failureKw: 'ERROR,FAILED',
};
const body = (text: string) => Buffer.from(text);

describe('keyword filtering of ping bodies (healthchecks fields)', () => {
  it("classifies in healthchecks' order: failure, then success, then start, else ignored", () => {
    expect(filteredKind(filter, 'success', null, body('backup FAILED; SUCCESS of cleanup'))).toBe('fail');
    expect(filteredKind(filter, 'success', null, body('done: all good'))).toBe('success');
    expect(filteredKind(filter, 'success', null, body('STARTING backup'))).toBe('start');
    expect(filteredKind(filter, 'success', null, body('nothing to report'))).toBe('ign');
    expect(filteredKind(filter, 'success', null, null)).toBe('ign');
  });

  it('matches case-sensitively and ignores empty keywords', () => {
    expect(filteredKind(filter, 'success', null, body('error in step 2'))).toBe('ign');
    expect(filteredKind({ ...filter, failureKw: ' , ,' }, 'success', null, body('x'))).toBe('ign');
  });

  it('leaves explicit signals and unfiltered checks alone', () => {
    expect(filteredKind(filter, 'start', null, body('ERROR'))).toBe('start');
    expect(filteredKind(filter, 'log', null, body('ERROR'))).toBe('log');
    expect(filteredKind(filter, 'success', 0, body('ERROR'))).toBe('success');
    expect(filteredKind({ ...filter, filterBody: false }, 'success', null, body('ERROR'))).toBe('success');
    // HTTP pings have no subject line: the subject filter alone filters nothing.
    expect(
      filteredKind({ ...filter, filterBody: false, filterSubject: true }, 'success', null, body('x')),
    ).toBe('success');
  });

  it('stores the fields, returns them, and honours the deprecated subject fields', async () => {
    const { signup, createCheck, api } = await startApp();
    const { apiKey } = await signup();
    const check = await createCheck(apiKey, {
      filter_body: true,
      start_kw: 'STARTING',
      success_kw: 'SUCCESS',
      failure_kw: 'ERROR,FAILED',
    });
    expect(check).toMatchObject({
      filter_subject: false,
      filter_body: true,
      start_kw: 'STARTING',
      success_kw: 'SUCCESS',
      failure_kw: 'ERROR,FAILED',
      subject: '',
      subject_fail: '',
    });
    const legacy = await api(apiKey).post(`/api/v1/checks/${check.uuid}`, {
      subject: 'OK',
      subject_fail: 'KO',
    });
    expect(legacy.json()).toMatchObject({
      filter_subject: true,
      filter_body: true,
      success_kw: 'OK',
      failure_kw: 'KO',
      subject: 'OK',
      subject_fail: 'KO',
    });
    const cleared = await api(apiKey).post(`/api/v1/checks/${check.uuid}`, { subject: '', subject_fail: '' });
    expect(cleared.json()).toMatchObject({ filter_subject: false, subject: '', subject_fail: '' });
  });

  it("answers healthchecks' validation errors for the filter fields", async () => {
    const { signup, api } = await startApp();
    const { apiKey } = await signup();
    for (const [body, message] of [
      [{ filter_body: 'yes' }, 'json validation error: filter_body is not a boolean'],
      [{ filter_subject: 1 }, 'json validation error: filter_subject is not a boolean'],
      [{ failure_kw: 5 }, 'json validation error: failure_kw is not a string'],
      [{ success_kw: 'x'.repeat(201) }, 'json validation error: success_kw is too long'],
    ] as const) {
      const response = await api(apiKey).post('/api/v3/checks/', body);
      expect(response.statusCode, JSON.stringify(body)).toBe(400);
      expect(response.json()).toEqual({ error: message });
    }
  });

  it('a ping whose body holds a failure keyword takes the check down; a success keyword brings it up', async () => {
    const { signup, createCheck, ping, api } = await startApp();
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey, {
      filter_body: true,
      start_kw: 'STARTING',
      success_kw: 'SUCCESS',
      failure_kw: 'ERROR',
    });
    const status = async () => (await api(apiKey).get(`/api/v3/checks/${uuid}`)).json();

    expect((await ping(uuid, { method: 'POST', payload: 'backup ERROR: disk full' })).statusCode).toBe(200);
    expect((await status()).status).toBe('down');
    await ping(uuid, { method: 'POST', payload: 'STARTING backup' });
    expect((await status()).started).toBe(true);
    await ping(uuid, { method: 'POST', payload: 'backup SUCCESS' });
    expect((await status()).status).toBe('up');
    await ping(uuid, { method: 'POST', payload: 'no keyword here' });
    expect((await status()).status).toBe('up');
    // An explicit /fail stays a failure whatever its body says.
    await ping(`${uuid}/fail`, { method: 'POST', payload: 'SUCCESS' });
    expect((await status()).status).toBe('down');

    const pings = (await api(apiKey).get(`/api/v3/checks/${uuid}/pings/`)).json().pings as { type: string }[];
    expect(pings.map((logged) => logged.type)).toEqual(['fail', 'ign', 'success', 'start', 'fail']);
  });
});
