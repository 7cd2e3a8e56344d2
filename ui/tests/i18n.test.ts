// Every string a person sees comes from the locale files, and English and French say
// the same things: same keys, same placeholders, no literal text in components.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'svelte/compiler';
import { describe, expect, it } from 'vitest';
import en from '../src/locales/en.json';
import fr from '../src/locales/fr.json';
import { has, preferredLang, setLang, t, tn } from '../src/lib/i18n.svelte';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
const componentsDir = join(__dirname, '../src/components');
const components = readdirSync(componentsDir).filter((f) => f.endsWith('.svelte'));

describe('locale files', () => {
  it('have the same keys in English and French', () => {
    expect(Object.keys(fr).sort()).toEqual(Object.keys(en).sort());
  });

  it('have no empty strings and the same placeholders in both languages', () => {
    const enTable = en as Record<string, string>;
    const frTable = fr as Record<string, string>;
    for (const key of Object.keys(enTable)) {
      expect(enTable[key].trim(), key).not.toBe('');
      expect(frTable[key].trim(), key).not.toBe('');
      expect(placeholders(frTable[key]), key).toEqual(placeholders(enTable[key]));
    }
  });

  it('give every counted string both plural forms', () => {
    const bases = new Set(Object.keys(en).filter((k) => /\.(one|other)$/.test(k)).map((k) => k.replace(/\.(one|other)$/, '')));
    for (const base of bases) {
      expect(has(`${base}.one`), base).toBe(true);
      expect(has(`${base}.other`), base).toBe(true);
    }
  });

  it('have a string for every key built at run time', () => {
    const dynamic = [
      ...['public', 'unlisted', 'private'].map((v) => `visibility.${v}`),
      ...['host', 'moderator', 'speaker', 'listener'].map((r) => `role.${r}`),
      ...['toggle_mute', 'toggle_hand', 'push_to_talk'].flatMap((a) => [`hotkeys.action.${a}`, `hotkeys.hint.${a}`]),
      ...['connecting', 'reconnecting', 'offline'].map((s) => `connection.${s}`),
      ...['removed', 'banned', 'ended'].map((r) => `room.left_${r}`),
      'lang.en',
      'lang.fr',
    ];
    for (const key of dynamic) expect(has(key), key).toBe(true);
  });

  it('name the error codes of the contract', () => {
    for (const code of ['not_connected', 'no_account', 'not_in_room', 'hotkey_conflict', 'invalid_input', 'unavailable', 'keyring', 'internal']) {
      expect(has(`error.${code}`), code).toBe(true);
    }
  });
});

describe('t and tn', () => {
  it('fill placeholders and switch language', () => {
    expect(t('menu.label', { name: 'Ada' })).toBe('Options for Ada');
    setLang('fr');
    expect(t('menu.label', { name: 'Ada' })).toBe('Options pour Ada');
  });

  it('pick plural forms by the language rules (French counts 0 and 1 as one)', () => {
    expect(tn('room.people', 1)).toBe('1 person');
    expect(tn('room.people', 0)).toBe('0 people');
    setLang('fr');
    expect(tn('room.people', 0)).toBe('0 personne');
    expect(tn('room.people', 2)).toBe('2 personnes');
  });

  it('start in the saved language, else the system one, else English', () => {
    expect(preferredLang('fr', 'en-US')).toBe('fr');
    expect(preferredLang(null, 'fr-CA')).toBe('fr');
    expect(preferredLang(null, 'de-DE')).toBe('en');
  });
});

// Walks a component's markup (not its script or style) and collects text a person would
// see that is not an expression.
type Node = { type: string; data?: string; name?: string; value?: unknown; [k: string]: unknown };
const VISIBLE_ATTRIBUTES = new Set(['aria-label', 'title', 'placeholder', 'alt', 'label', 'aria-valuetext']);

function literals(node: unknown, found: string[]): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const child of node) literals(child, found);
    return;
  }
  const n = node as Node;
  if (n.type === 'Text' && typeof n.data === 'string' && /\p{L}/u.test(n.data)) found.push(n.data.trim());
  if (n.type === 'Attribute' && n.name && VISIBLE_ATTRIBUTES.has(n.name) && Array.isArray(n.value)) {
    for (const part of n.value as Node[]) if (part.type === 'Text' && /\p{L}/u.test(part.data ?? '')) found.push(`${n.name}="${part.data}"`);
    return;
  }
  // Other attributes (classes, ids, test ids) and style directives are not shown.
  if (n.type === 'Attribute' || n.type === 'StyleDirective') return;
  for (const [key, value] of Object.entries(n)) {
    if (key === 'instance' || key === 'module' || key === 'css' || key === 'expression') continue;
    literals(value, found);
  }
}

describe('components', () => {
  it.each(components)('%s shows no literal text outside the locale files', (file) => {
    const source = readFileSync(join(componentsDir, file), 'utf8');
    const ast = parse(source, { modern: true });
    const found: string[] = [];
    literals(ast.fragment, found);
    expect(found).toEqual([]);
  });

  it('the walker does catch literal text and labels', () => {
    const ast = parse('<p>Hello</p><button aria-label="Close">{x}</button><i class="words here"></i>', { modern: true });
    const found: string[] = [];
    literals(ast.fragment, found);
    expect(found).toEqual(['Hello', 'aria-label="Close"']);
  });
});
