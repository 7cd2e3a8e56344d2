// Hotkey capture: a key press becomes the shell's accelerator form; clashes are found.
import { describe, expect, it } from 'vitest';
import { capture, conflictWith, keyCaps, matches, normalize, type KeyPress } from '../src/lib/hotkeys';
import { hotkeys } from './fixtures';

function press(code: string, mods: Partial<KeyPress> = {}, key = code): KeyPress {
  return { code, key, ctrlKey: false, altKey: false, shiftKey: false, metaKey: false, ...mods };
}

describe('capture', () => {
  it('turns Ctrl+Shift+M into the shell form', () => {
    expect(capture(press('KeyM', { ctrlKey: true, shiftKey: true }, 'M'))).toEqual({
      kind: 'done',
      accelerator: 'Ctrl+Shift+M',
    });
  });

  it('orders modifiers the same way whatever was pressed first, and names digits and keys by position', () => {
    expect(capture(press('Digit5', { metaKey: true, altKey: true }, '%'))).toEqual({ kind: 'done', accelerator: 'Alt+Super+5' });
    expect(capture(press('Space', { ctrlKey: true }, ' '))).toEqual({ kind: 'done', accelerator: 'Ctrl+Space' });
    expect(capture(press('ArrowUp', { altKey: true }))).toEqual({ kind: 'done', accelerator: 'Alt+ArrowUp' });
  });

  it('waits while only modifiers are held, showing them', () => {
    expect(capture(press('ControlLeft', { ctrlKey: true }, 'Control'))).toEqual({ kind: 'partial', held: ['Ctrl'] });
    expect(capture(press('ShiftRight', { ctrlKey: true, shiftKey: true }, 'Shift'))).toEqual({
      kind: 'partial',
      held: ['Ctrl', 'Shift'],
    });
  });

  it('accepts a function key alone but not a letter alone or with Shift only', () => {
    expect(capture(press('F9'))).toEqual({ kind: 'done', accelerator: 'F9' });
    expect(capture(press('KeyM', {}, 'm'))).toEqual({ kind: 'needs_modifier', accelerator: 'M' });
    expect(capture(press('KeyM', { shiftKey: true }, 'M'))).toEqual({ kind: 'needs_modifier', accelerator: 'Shift+M' });
  });

  it('clears on a bare Backspace or Delete', () => {
    expect(capture(press('Backspace'))).toEqual({ kind: 'clear' });
    expect(capture(press('Delete'))).toEqual({ kind: 'clear' });
    expect(capture(press('Backspace', { ctrlKey: true }))).toEqual({ kind: 'done', accelerator: 'Ctrl+Backspace' });
  });

  it('cancels on a bare Escape but binds Ctrl+Escape', () => {
    expect(capture(press('Escape'))).toEqual({ kind: 'cancel' });
    expect(capture(press('Escape', { ctrlKey: true }))).toEqual({ kind: 'done', accelerator: 'Ctrl+Escape' });
  });
});

describe('accelerators', () => {
  it('normalizes aliases and order', () => {
    expect(normalize('shift+CommandOrControl+m')).toBe('Ctrl+Shift+M');
    expect(normalize('Super+Alt+KeyK')).toBe('Alt+Super+K');
    expect(keyCaps('Ctrl+Shift+M')).toEqual(['Ctrl', 'Shift', 'M']);
    expect(keyCaps('')).toEqual([]);
  });

  it('finds another action on the same keys, in any spelling, but not the action itself', () => {
    const list = hotkeys();
    expect(conflictWith(list, 'push_to_talk', 'shift+ctrl+m')).toBe('toggle_mute');
    expect(conflictWith(list, 'toggle_mute', 'Ctrl+Shift+M')).toBeNull();
    expect(conflictWith(list, 'push_to_talk', 'Ctrl+Shift+P')).toBeNull();
  });

  it('matches key presses against a binding', () => {
    expect(matches(press('KeyM', { ctrlKey: true, shiftKey: true }), 'Ctrl+Shift+M')).toBe(true);
    expect(matches(press('KeyM', { ctrlKey: true }), 'Ctrl+Shift+M')).toBe(false);
    expect(matches(press('KeyM', { ctrlKey: true }), '')).toBe(false);
  });
});
