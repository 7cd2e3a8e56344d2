// Onboarding checks: the handle rules of crates/proto/src/handle.rs, display names and
// room titles of limits.rs, server addresses.
import { describe, expect, it } from 'vitest';
import {
  displayNameProblem,
  handleProblem,
  normalizeServerUrl,
  roomTitleProblem,
  serverUrlProblem,
} from '../src/lib/validate';

describe('handles', () => {
  it('accepts what the server accepts', () => {
    for (const good of ['ada', 'ada_lovelace', 'x_1', 'a'.repeat(30), '___', '007']) {
      expect(handleProblem(good), good).toBeNull();
    }
  });

  it('refuses the lengths the server refuses', () => {
    expect(handleProblem('ab')?.key).toBe('validate.handle_length');
    expect(handleProblem('a'.repeat(31))?.key).toBe('validate.handle_length');
    expect(handleProblem('')?.key).toBe('validate.handle_empty');
  });

  it('names the first character that is not allowed', () => {
    expect(handleProblem('Ada')).toEqual({ key: 'validate.handle_upper', params: { char: 'A' } });
    expect(handleProblem('ada-l')).toEqual({ key: 'validate.handle_char', params: { char: '-' } });
    expect(handleProblem('adé')).toEqual({ key: 'validate.handle_char', params: { char: 'é' } });
    expect(handleProblem('a d')?.key).toBe('validate.handle_space');
  });

  it('reports a bad character before a bad length, like the server', () => {
    expect(handleProblem('A')?.key).toBe('validate.handle_upper');
  });
});

describe('display names and titles', () => {
  it('need something besides spaces', () => {
    expect(displayNameProblem('   ')?.key).toBe('validate.name_empty');
    expect(roomTitleProblem('')?.key).toBe('validate.title_empty');
  });

  it('count characters, not bytes, after trimming', () => {
    expect(displayNameProblem(`  ${'é'.repeat(64)}  `)).toBeNull();
    expect(displayNameProblem('é'.repeat(65))?.key).toBe('validate.name_long');
    expect(roomTitleProblem('t'.repeat(100))).toBeNull();
    expect(roomTitleProblem('t'.repeat(101))?.key).toBe('validate.title_long');
  });

  it('refuse control characters', () => {
    expect(displayNameProblem('Ada\nLovelace')?.key).toBe('validate.control_chars');
  });
});

describe('server addresses', () => {
  it('accepts ws, wss and http(s) addresses and bare host names', () => {
    for (const good of ['wss://salon.example.org', 'ws://192.168.1.4:7300', 'salon.example.org', 'https://x.org/v1/ws']) {
      expect(serverUrlProblem(good), good).toBeNull();
    }
    expect(normalizeServerUrl(' salon.example.org ')).toBe('wss://salon.example.org');
    expect(normalizeServerUrl('ws://h:1')).toBe('ws://h:1');
  });

  it('refuses empty and nonsense addresses', () => {
    expect(serverUrlProblem('  ')?.key).toBe('validate.server_empty');
    expect(serverUrlProblem('ftp://x.org')?.key).toBe('validate.server_invalid');
    expect(serverUrlProblem('http://')?.key).toBe('validate.server_invalid');
  });
});
