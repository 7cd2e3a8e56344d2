// Command errors shown as a person can act on them: the locale's sentence for a known
// code, the shell's message otherwise.
import { describe, expect, it } from 'vitest';
import { CommandError, errorText } from '../src/lib/errors';
import { setLang } from '../src/lib/i18n.svelte';
import en from '../src/locales/en.json';
import fr from '../src/locales/fr.json';

describe('errorText', () => {
  it('uses the locale string for a known code', () => {
    expect(errorText({ code: 'handle_taken', message: 'handle taken' })).toBe(en['error.handle_taken']);
    setLang('fr');
    expect(errorText({ code: 'handle_taken', message: 'handle taken' })).toBe(fr['error.handle_taken']);
  });

  it("falls back to the shell's message for an unknown code", () => {
    expect(errorText({ code: 'brand_new_code', message: 'Do the new thing.' })).toBe('Do the new thing.');
  });

  it('never shows an empty sentence', () => {
    expect(errorText({ code: 'brand_new_code', message: '  ' })).toBe(en['error.internal']);
  });

  it('reads whatever invoke rejected with', () => {
    expect(CommandError.from('command not found')).toMatchObject({ code: 'internal', message: 'command not found' });
    expect(CommandError.from(new Error('boom'))).toMatchObject({ code: 'internal', message: 'boom' });
    expect(CommandError.from({ code: 'not_connected' })).toMatchObject({ code: 'not_connected', message: '' });
  });
});
