/**
 * What the onboarding and room forms check before anything is sent.
 *
 * The same rules as `crates/proto` (`handle.rs`, `limits.rs`), so a person learns what
 * is wrong while typing instead of from a server error: a handle is 3 to 30 of `a`–`z`,
 * `0`–`9` and `_`; display names are 1 to 64 characters and room titles 1 to 100 after
 * trimming, neither with control characters.
 */
import type { MessageKey } from './i18n.svelte';

export const HANDLE_MIN = 3;
export const HANDLE_MAX = 30;
export const DISPLAY_NAME_MAX = 64;
export const ROOM_TITLE_MAX = 100;

/** Why a value is refused: a locale key and what to fill into it. */
export interface Problem {
  key: MessageKey;
  params?: Record<string, string | number>;
}

/** `null` when `text` is a valid handle, else why not (the first bad character first). */
export function handleProblem(text: string): Problem | null {
  if (text.length === 0) return { key: 'validate.handle_empty' };
  for (const ch of text) {
    const ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch === '_';
    if (!ok) {
      if (ch >= 'A' && ch <= 'Z') return { key: 'validate.handle_upper', params: { char: ch } };
      if (ch.trim() === '') return { key: 'validate.handle_space' };
      return { key: 'validate.handle_char', params: { char: ch } };
    }
  }
  if (text.length < HANDLE_MIN || text.length > HANDLE_MAX) {
    return { key: 'validate.handle_length', params: { min: HANDLE_MIN, max: HANDLE_MAX } };
  }
  return null;
}

function textProblem(text: string, max: number, empty: MessageKey, long: MessageKey): Problem | null {
  const trimmed = text.trim();
  if (trimmed.length === 0) return { key: empty };
  if ([...trimmed].length > max) return { key: long, params: { max } };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(trimmed)) return { key: 'validate.control_chars' };
  return null;
}

export function displayNameProblem(text: string): Problem | null {
  return textProblem(text, DISPLAY_NAME_MAX, 'validate.name_empty', 'validate.name_long');
}

export function roomTitleProblem(text: string): Problem | null {
  return textProblem(text, ROOM_TITLE_MAX, 'validate.title_empty', 'validate.title_long');
}

/** `null` for a ws:// or wss:// (or http/https, turned into ws) server address, else why not. */
export function serverUrlProblem(text: string): Problem | null {
  const trimmed = text.trim();
  if (trimmed.length === 0) return { key: 'validate.server_empty' };
  try {
    const url = new URL(trimmed.includes('://') ? trimmed : `wss://${trimmed}`);
    if (!['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol) || !url.hostname) {
      return { key: 'validate.server_invalid' };
    }
    return null;
  } catch {
    return { key: 'validate.server_invalid' };
  }
}

/** The address as given, with `wss://` added when no scheme was typed. */
export function normalizeServerUrl(text: string): string {
  const trimmed = text.trim();
  return trimmed.includes('://') ? trimmed : `wss://${trimmed}`;
}
