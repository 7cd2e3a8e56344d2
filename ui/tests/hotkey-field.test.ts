// Rebinding a hotkey by pressing it: clashes shown before anything is sent, the shell's
// refusal shown as a sentence, Escape keeps the old binding.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '$lib/api';
import HotkeyField from '../src/components/HotkeyField.svelte';
import SettingsView from '../src/components/SettingsView.svelte';
import en from '../src/locales/en.json';
import { hotkeys, settings, store, withApp } from './fixtures';
import { resetApi } from './api-mock';

vi.mock('$lib/api', () => import('./api-mock'));

function field(action: 'toggle_mute' | 'push_to_talk' = 'push_to_talk') {
  const app = store();
  render(HotkeyField, withApp(app, { action }));
  return { app, button: screen.getByTestId(`hotkey-${action}-button`) };
}

describe('hotkey field', () => {
  beforeEach(() => resetApi());

  it('shows the binding as text the end-to-end test can read', () => {
    field('toggle_mute');
    expect(screen.getByTestId('hotkey-toggle_mute').textContent).toBe('Ctrl+Shift+M');
  });

  it('binds the combination pressed and shows what the shell answered', async () => {
    const { app, button } = field();
    const answer = hotkeys().map((h) => (h.action === 'push_to_talk' ? { ...h, accelerator: 'Ctrl+Alt+P', registered: true } : h));
    vi.mocked(api.setHotkey).mockResolvedValue(answer);
    await fireEvent.click(button);
    expect(button.textContent).toContain(en['hotkeys.press']);
    await fireEvent.keyDown(button, { key: 'Control', code: 'ControlLeft', ctrlKey: true });
    expect(screen.getByTestId('hotkey-push_to_talk').textContent).toContain('Ctrl');
    await fireEvent.keyDown(button, { key: 'p', code: 'KeyP', ctrlKey: true, altKey: true });
    expect(vi.mocked(api.setHotkey)).toHaveBeenCalledWith('push_to_talk', 'Ctrl+Alt+P');
    await waitFor(() => expect(screen.getByTestId('hotkey-push_to_talk').textContent).toBe('Ctrl+Alt+P'));
    expect(app.hotkeys.find((h) => h.action === 'push_to_talk')?.accelerator).toBe('Ctrl+Alt+P');
  });

  it('refuses keys another action uses, before asking the shell', async () => {
    const { button } = field();
    await fireEvent.click(button);
    await fireEvent.keyDown(button, { key: 'M', code: 'KeyM', ctrlKey: true, shiftKey: true });
    expect(screen.getByTestId('hotkey-problem').textContent).toBe('Ctrl+Shift+M is already used for “Mute / unmute”.');
    expect(vi.mocked(api.setHotkey)).not.toHaveBeenCalled();
  });

  it('refuses a plain letter that would block typing', async () => {
    const { button } = field();
    await fireEvent.click(button);
    await fireEvent.keyDown(button, { key: 'p', code: 'KeyP' });
    expect(screen.getByTestId('hotkey-problem').textContent).toContain('would block typing');
    expect(vi.mocked(api.setHotkey)).not.toHaveBeenCalled();
  });

  it("shows the shell's hotkey_conflict (another program) in the person's language", async () => {
    const { button } = field();
    vi.mocked(api.setHotkey).mockRejectedValue({ code: 'hotkey_conflict', message: 'taken by the system' });
    await fireEvent.click(button);
    await fireEvent.keyDown(button, { key: 't', code: 'KeyT', ctrlKey: true, altKey: true });
    await waitFor(() => expect(screen.getByTestId('hotkey-problem').textContent).toBe(en['error.hotkey_conflict']));
  });

  it('removes the binding on Backspace', async () => {
    const { button } = field('toggle_mute');
    vi.mocked(api.setHotkey).mockResolvedValue(
      hotkeys().map((h) => (h.action === 'toggle_mute' ? { ...h, accelerator: '', registered: false } : h)),
    );
    await fireEvent.click(button);
    await fireEvent.keyDown(button, { key: 'Backspace', code: 'Backspace' });
    expect(vi.mocked(api.setHotkey)).toHaveBeenCalledWith('toggle_mute', '');
    await waitFor(() => expect(screen.getByTestId('hotkey-toggle_mute').textContent).toBe(en['hotkeys.none']));
  });

  it('keeps the old binding on Escape', async () => {
    const { button } = field('toggle_mute');
    await fireEvent.click(button);
    await fireEvent.keyDown(button, { key: 'Escape', code: 'Escape' });
    expect(screen.getByTestId('hotkey-toggle_mute').textContent).toBe('Ctrl+Shift+M');
    expect(vi.mocked(api.setHotkey)).not.toHaveBeenCalled();
  });
});

describe('settings', () => {
  beforeEach(() => resetApi());

  it('says when global shortcuts are unavailable (Wayland), with the shell note', async () => {
    const app = store();
    const s = settings({ globalShortcutsAvailable: false, globalShortcutsNote: 'Wayland does not allow it.' });
    vi.mocked(api.getSettings).mockResolvedValue(s);
    vi.mocked(api.listDevices).mockResolvedValue({ inputs: [{ id: 'a:mic', name: 'USB mic', isDefault: false }], outputs: [] });
    render(SettingsView, withApp(app));
    const note = await screen.findByTestId('settings-shortcuts-note');
    expect(note.textContent).toContain('Wayland does not allow it.');
    await screen.findByText('USB mic');
  });

  it('has no such note when they work', async () => {
    const app = store();
    vi.mocked(api.getSettings).mockResolvedValue(settings());
    vi.mocked(api.listDevices).mockResolvedValue({ inputs: [], outputs: [] });
    render(SettingsView, withApp(app));
    await waitFor(() => expect(vi.mocked(api.getSettings)).toHaveBeenCalled());
    expect(screen.queryByTestId('settings-shortcuts-note')).toBeNull();
  });

  it('switches the language at once and tells the shell', async () => {
    const app = store();
    vi.mocked(api.getSettings).mockResolvedValue(settings());
    vi.mocked(api.listDevices).mockResolvedValue({ inputs: [], outputs: [] });
    render(SettingsView, withApp(app));
    await fireEvent.change(screen.getByTestId('settings-language'), { target: { value: 'fr' } });
    await waitFor(() => expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Réglages'));
    expect(vi.mocked(api.setLanguage)).toHaveBeenCalledWith('fr');
  });
});
