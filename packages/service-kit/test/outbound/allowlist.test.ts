import { describe, expect, it } from 'vitest';
import { parseOutboundAllowlist } from '../../src/outbound';

describe('parseOutboundAllowlist', () => {
  it('treats an unset variable as allowing nothing extra', () => {
    const allowlist = parseOutboundAllowlist(undefined);
    expect(allowlist.hostnames.size).toBe(0);
    expect(allowlist.networks).toHaveLength(0);
  });

  it('reads hostnames case-insensitively, ignoring a trailing dot and spaces around entries', () => {
    const allowlist = parseOutboundAllowlist(' LocalHost , hooks.internal. ,svc_a.local');
    expect([...allowlist.hostnames]).toEqual(['localhost', 'hooks.internal', 'svc_a.local']);
  });

  it('reads single IPv4 and IPv6 addresses as /32 and /128 networks', () => {
    const allowlist = parseOutboundAllowlist('127.0.0.1,::1');
    expect(allowlist.networks.map(([address, prefix]) => `${address.toString()}/${prefix}`)).toEqual([
      '127.0.0.1/32',
      '::1/128',
    ]);
  });

  it('reads IPv4 and IPv6 CIDRs', () => {
    const allowlist = parseOutboundAllowlist('10.0.0.0/8,fd00::/8,192.168.1.0/24');
    expect(allowlist.networks.map(([address, prefix]) => `${address.toString()}/${prefix}`)).toEqual([
      '10.0.0.0/8',
      'fd00::/8',
      '192.168.1.0/24',
    ]);
  });

  it.each([
    ['an empty variable', '', 'position 1'],
    ['a trailing comma', 'localhost,', 'position 2'],
    ['a doubled comma', 'localhost,,127.0.0.1', 'position 2'],
    ['a blank entry', 'localhost, ,127.0.0.1', 'position 2'],
  ])('rejects %s, naming the variable and the position', (_case, value, position) => {
    expect(() => parseOutboundAllowlist(value)).toThrow(/OUTBOUND_ALLOWLIST has an empty entry/);
    expect(() => parseOutboundAllowlist(value)).toThrow(position);
  });

  it.each([
    '10.0.0.0/33',
    'fd00::/129',
    '10.0.0.0/',
    '10.0.0/8',
    '10.0.0.0/8/8',
    'example.com/24',
    '10.0.0.0/-1',
  ])('rejects the malformed CIDR %s, naming the variable and the entry', (entry) => {
    expect(() => parseOutboundAllowlist(`localhost,${entry}`)).toThrow(
      `OUTBOUND_ALLOWLIST entry "${entry}" is not a valid CIDR`,
    );
  });

  it.each([
    'http://localhost',
    'localhost:8080',
    '*.example.com',
    'bad host',
    '127.1',
    '0x7f.0.0.1',
    '[::1]',
  ])('rejects %s, which is neither a hostname nor an IP address nor a CIDR', (entry) => {
    expect(() => parseOutboundAllowlist(entry)).toThrow(
      `OUTBOUND_ALLOWLIST entry "${entry}" is not a hostname`,
    );
  });
});
