import { describe, expect, it } from 'vitest';
import { initials } from '../src/lib/initials';

describe('initials', () => {
  it('takes the first letter of the first two words', () => {
    expect(initials('Alice Martin')).toBe('AM');
    expect(initials('  élodie   de la Tour ')).toBe('ÉD');
    expect(initials('Zoë')).toBe('Z');
  });

  it('skips words that do not start with a letter or digit', () => {
    expect(initials('Bob (bot)')).toBe('B');
    expect(initials('— Carol "CJ" Jones')).toBe('CJ');
    expect(initials('2 Chainz')).toBe('2C');
  });

  it('falls back to a question mark', () => {
    expect(initials('')).toBe('?');
    expect(initials('(((')).toBe('?');
  });
});
