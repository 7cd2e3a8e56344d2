/**
 * Translations: every user-visible string lives in `src/locales/<lang>.json`.
 *
 * The language is reactive state, so a template that calls `t()` re-renders when the
 * person switches language. Keys are flat (`room.leave`); `{name}` placeholders are
 * filled from `params`; counted strings use `<key>.one` / `<key>.other` picked by the
 * language's plural rules.
 */
import en from '../locales/en.json';
import fr from '../locales/fr.json';

export type MessageKey = keyof typeof en;
export type Lang = 'en' | 'fr';

export const LANGS: readonly Lang[] = ['en', 'fr'];

const catalogs: Record<Lang, Record<string, string>> = { en, fr };

const state = $state<{ lang: Lang }>({ lang: 'en' });

/** The language strings are shown in. */
export function lang(): Lang {
  return state.lang;
}

/** Switches every string on screen to `next`. */
export function setLang(next: Lang): void {
  state.lang = next;
  if (typeof document !== 'undefined') document.documentElement.lang = next;
}

/** The language a first start should use: the system's when we have it, else English. */
export function preferredLang(saved?: string | null, system?: string): Lang {
  if (saved === 'en' || saved === 'fr') return saved;
  const sys = (system ?? (typeof navigator === 'undefined' ? '' : navigator.language)).toLowerCase();
  return sys.startsWith('fr') ? 'fr' : 'en';
}

/** Whether `key` names a string (any language: English is the reference). */
export function has(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

function fill(text: string, params?: Record<string, string | number>): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The string for `key` in the current language (English if the key is missing there). */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = catalogs[state.lang][key] ?? catalogs.en[key] ?? key;
  return fill(text, params);
}

/** A counted string: `base.one` or `base.other` by the language's plural rule for `count`. */
export function tn(base: string, count: number, params?: Record<string, string | number>): string {
  const rule = new Intl.PluralRules(state.lang).select(count);
  const key = has(`${base}.${rule}`) ? `${base}.${rule}` : `${base}.other`;
  const formatted = new Intl.NumberFormat(state.lang).format(count);
  return has(key) ? t(key, { count: formatted, ...params }) : key;
}

/** A time of day in the current language. */
export function formatTime(ms: number): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return '';
  return new Intl.DateTimeFormat(state.lang, { hour: 'numeric', minute: '2-digit' }).format(date);
}

/** When something happened: the time today, else the day. */
export function formatWhen(ms: number, now = Date.now()): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return '';
  if (date.toDateString() === new Date(now).toDateString()) return formatTime(ms);
  return new Intl.DateTimeFormat(state.lang, { month: 'short', day: 'numeric' }).format(date);
}
