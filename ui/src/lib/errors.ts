/**
 * Errors from commands, as a person can act on them.
 *
 * The shell rejects every failed command with `{ code, message }`. The UI shows the
 * locale's sentence for a code it knows and falls back to the shell's own message (in
 * English) for any other, so a new code on the Rust side is never shown as a bare code.
 */
import { has, t } from './i18n.svelte';

export class CommandError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
  }

  /** Whatever `invoke` rejected with, as a `CommandError`. */
  static from(raw: unknown): CommandError {
    if (raw instanceof CommandError) return raw;
    if (raw && typeof raw === 'object' && 'code' in raw && typeof raw.code === 'string') {
      const message = 'message' in raw && typeof raw.message === 'string' ? raw.message : '';
      return new CommandError(raw.code, message);
    }
    if (raw instanceof Error) return new CommandError('internal', raw.message);
    return new CommandError('internal', typeof raw === 'string' ? raw : String(raw));
  }
}

/** The sentence to show for an error: the locale's for a known code, else its message. */
export function errorText(raw: unknown): string {
  const err = CommandError.from(raw);
  const key = `error.${err.code}`;
  if (has(key)) return t(key);
  return err.message.trim() || t('error.internal');
}
