/**
 * Hotkeys: turning a key press into an accelerator, and finding clashes.
 *
 * Accelerators use the form the shell's global-shortcut plugin reads: modifiers in a
 * fixed order (`Ctrl`, `Alt`, `Shift`, `Super`) then one key named by its physical
 * position (`M`, `5`, `F9`, `Space`, `ArrowUp`), joined by `+`. A key alone is only
 * accepted for F1–F24: anything else would take a key away from typing everywhere.
 * Backspace or Delete alone unbinds (the shell takes an empty accelerator as "none").
 */
import type { Hotkey, HotkeyAction } from './types';

export const ACTIONS: readonly HotkeyAction[] = ['toggle_mute', 'toggle_hand', 'push_to_talk'];

const MODIFIER_ORDER = ['Ctrl', 'Alt', 'Shift', 'Super'] as const;
const MODIFIER_CODES = new Set([
  'ControlLeft', 'ControlRight', 'ShiftLeft', 'ShiftRight', 'AltLeft', 'AltRight',
  'MetaLeft', 'MetaRight', 'OSLeft', 'OSRight',
]);
const MODIFIER_KEYS = new Set(['Control', 'Shift', 'Alt', 'Meta', 'OS', 'AltGraph']);

export interface KeyPress {
  key: string;
  code: string;
  ctrlKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  metaKey: boolean;
}

export type Capture =
  /** A complete, usable combination. */
  | { kind: 'done'; accelerator: string }
  /** Only modifiers so far: what is held, to show while waiting for the key. */
  | { kind: 'partial'; held: string[] }
  /** A key that cannot be a hotkey alone. */
  | { kind: 'needs_modifier'; accelerator: string }
  /** Escape: stop capturing, keep the old binding. */
  | { kind: 'cancel' }
  /** Backspace or Delete alone: remove the binding. */
  | { kind: 'clear' };

function heldModifiers(e: KeyPress): string[] {
  const held: string[] = [];
  if (e.ctrlKey) held.push('Ctrl');
  if (e.altKey) held.push('Alt');
  if (e.shiftKey) held.push('Shift');
  if (e.metaKey) held.push('Super');
  return held;
}

/** The accelerator name of a physical key (`KeyM` → `M`, `Digit5` → `5`). */
export function keyName(code: string): string {
  if (/^Key[A-Z]$/.test(code)) return code.slice(3);
  if (/^Digit[0-9]$/.test(code)) return code.slice(5);
  return code;
}

/** What a key press means while a hotkey field is listening. */
export function capture(e: KeyPress): Capture {
  const held = heldModifiers(e);
  if (MODIFIER_CODES.has(e.code) || MODIFIER_KEYS.has(e.key)) return { kind: 'partial', held };
  if (e.code === 'Escape' && held.length === 0) return { kind: 'cancel' };
  if ((e.code === 'Backspace' || e.code === 'Delete') && held.length === 0) return { kind: 'clear' };
  const accelerator = [...held, keyName(e.code)].join('+');
  const functionKey = /^F([1-9]|1[0-9]|2[0-4])$/.test(e.code);
  const strongModifier = e.ctrlKey || e.altKey || e.metaKey;
  if (!functionKey && !strongModifier) return { kind: 'needs_modifier', accelerator };
  return { kind: 'done', accelerator };
}

/** `accelerator` with its modifiers in the fixed order and canonical names. */
export function normalize(accelerator: string): string {
  const parts = accelerator.split('+').map((p) => p.trim()).filter(Boolean);
  const aliases: Record<string, string> = {
    control: 'Ctrl', ctrl: 'Ctrl', cmdorctrl: 'Ctrl', commandorcontrol: 'Ctrl',
    alt: 'Alt', option: 'Alt', shift: 'Shift',
    super: 'Super', meta: 'Super', cmd: 'Super', command: 'Super',
  };
  const mods = new Set<string>();
  const keys: string[] = [];
  for (const part of parts) {
    const alias = aliases[part.toLowerCase()];
    if (alias) mods.add(alias);
    else keys.push(keyName(part.length === 1 ? part.toUpperCase() : part));
  }
  return [...MODIFIER_ORDER.filter((m) => mods.has(m)), ...keys].join('+');
}

/** The parts to show as key caps. */
export function keyCaps(accelerator: string): string[] {
  return accelerator ? normalize(accelerator).split('+') : [];
}

/** The other action already bound to `accelerator`, if any. */
export function conflictWith(hotkeys: Hotkey[], action: HotkeyAction, accelerator: string): HotkeyAction | null {
  const wanted = normalize(accelerator).toLowerCase();
  const other = hotkeys.find((h) => h.action !== action && h.accelerator && normalize(h.accelerator).toLowerCase() === wanted);
  return other ? other.action : null;
}

/** Whether a key press matches an accelerator (for in-window use when global ones are off). */
export function matches(e: KeyPress, accelerator: string): boolean {
  if (!accelerator) return false;
  const pressed = [...heldModifiers(e), keyName(e.code)].join('+').toLowerCase();
  return pressed === normalize(accelerator).toLowerCase();
}
