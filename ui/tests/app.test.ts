// The whole window: startup decides between onboarding and the app, events from the
// shell reach the screens, and hotkeys work inside the window when global ones cannot.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '$lib/api';
import App from '../src/components/App.svelte';
import { AppStore } from '../src/lib/app.svelte';
import { appState, member, room, settings } from './fixtures';
import { emit, resetApi } from './api-mock';

vi.mock('$lib/api', () => import('./api-mock'));

function start(state = appState()) {
  const app = new AppStore();
  app.sounds = false;
  vi.mocked(api.appState).mockResolvedValue(state);
  vi.mocked(api.listRooms).mockResolvedValue([]);
  vi.mocked(api.dmList).mockResolvedValue([]);
  render(App, { props: { store: app } });
  return app;
}

describe('app', () => {
  beforeEach(() => resetApi());

  it('asks for onboarding on first run', async () => {
    start(appState({ needsOnboarding: true, account: null, hosting: null }));
    expect(await screen.findByTestId('onboarding')).toBeTruthy();
  });

  it('opens the hallway when an account exists, in the saved language', async () => {
    vi.mocked(api.listRooms).mockResolvedValue([]);
    start(appState({ settings: settings({ language: 'fr' }) }));
    await screen.findByTestId('hallway');
    expect(screen.getByRole('heading', { level: 1 }).textContent).toBe('Couloir');
    expect(document.documentElement.lang).toBe('fr');
  });

  it('lists rooms from the shell, each joinable by its id', async () => {
    const app = start();
    vi.mocked(api.listRooms).mockResolvedValue([{ roomId: 'r-9', title: 'Night owls', speakers: ['Ada', 'Bob'], listenerCount: 4 }]);
    await app.refreshRooms();
    const card = await screen.findByTestId('hallway-room-r-9');
    expect(card.textContent).toContain('Night owls');
    expect(card.textContent).toContain('4 listening');
    vi.mocked(api.joinRoom).mockResolvedValue(room({ roomId: 'r-9', title: 'Night owls', myRole: 'listener' }));
    await fireEvent.click(card);
    expect(vi.mocked(api.joinRoom)).toHaveBeenCalledWith('r-9');
    expect((await screen.findByTestId('room')).dataset.roomId).toBe('r-9');
  });

  it('creates a public room from the hallway and enters it', async () => {
    start();
    await screen.findByTestId('hallway');
    vi.mocked(api.createRoom).mockResolvedValue(room({ title: 'Tea' }));
    await fireEvent.input(screen.getByTestId('hallway-create-title'), { target: { value: '  Tea ' } });
    await fireEvent.click(screen.getByTestId('hallway-create-submit'));
    expect(vi.mocked(api.createRoom)).toHaveBeenCalledWith('Tea', 'public');
    expect((await screen.findByTestId('room-title')).textContent).toBe('Tea');
  });

  it('goes back into the room it was in after the window reloads', async () => {
    start(appState({ room: room({ title: 'Still here' }) }));
    expect((await screen.findByTestId('room-title')).textContent).toBe('Still here');
  });

  it('shows what the shell sends on its event stream', async () => {
    start();
    await screen.findByTestId('hallway');
    emit({ type: 'connection', connection: { state: 'offline', attempt: null, nextInMs: null, reason: null } });
    expect((await screen.findByTestId('connection-banner')).dataset.state).toBe('offline');
    emit({ type: 'error', code: 'rate_limited', message: 'slow down' });
    expect((await screen.findByTestId('toast')).textContent).toContain('Too many requests');
  });

  it('says why it could not start', async () => {
    const app = new AppStore();
    vi.mocked(api.appState).mockRejectedValue({ code: 'keyring', message: 'locked' });
    render(App, { props: { store: app } });
    expect((await screen.findByTestId('app-failed')).textContent).toContain('keyring is locked');
  });

  it('toggles mute with the hotkey inside the window when global shortcuts are unavailable', async () => {
    start(
      appState({
        settings: settings({ globalShortcutsAvailable: false }),
        room: room({ stage: [member('ada', { role: 'host', muted: false })] }),
      }),
    );
    await screen.findByTestId('room');
    await fireEvent.keyDown(window, { key: 'M', code: 'KeyM', ctrlKey: true, shiftKey: true });
    expect(vi.mocked(api.setMuted)).toHaveBeenCalledWith(true);
    await waitFor(() => expect(screen.getByTestId('room-mute').dataset.muted).toBe('true'));
  });

  it('leaves the hotkeys to the shell when global shortcuts work', async () => {
    start(appState({ room: room() }));
    await screen.findByTestId('room');
    await fireEvent.keyDown(window, { key: 'M', code: 'KeyM', ctrlKey: true, shiftKey: true });
    expect(vi.mocked(api.setMuted)).not.toHaveBeenCalled();
  });

  it('push-to-talk inside the window unmutes while held', async () => {
    start(
      appState({
        settings: settings({
          globalShortcutsAvailable: false,
          hotkeys: [{ action: 'push_to_talk', accelerator: 'F9', registered: false, error: null }],
        }),
        room: room({ muted: true, stage: [member('ada', { role: 'host', muted: true })] }),
      }),
    );
    await screen.findByTestId('room');
    await fireEvent.keyDown(window, { key: 'F9', code: 'F9' });
    await waitFor(() => expect(screen.getByTestId('room-mute').dataset.muted).toBe('false'));
    await fireEvent.keyUp(window, { key: 'F9', code: 'F9' });
    await waitFor(() => expect(screen.getByTestId('room-mute').dataset.muted).toBe('true'));
    expect(vi.mocked(api.setMuted).mock.calls).toEqual([[false], [true]]);
  });
});

describe('context menu', () => {
  beforeEach(() => resetApi());

  it('is kept for text and dropped elsewhere', async () => {
    start();
    const title = await screen.findByTestId('hallway-create-title');
    const onText = new MouseEvent('contextmenu', { bubbles: true, cancelable: true });
    title.dispatchEvent(onText);
    expect(onText.defaultPrevented).toBe(false);
    const onButton = new MouseEvent('contextmenu', { bubbles: true, cancelable: true });
    screen.getByTestId('hallway-create-submit').dispatchEvent(onButton);
    expect(onButton.defaultPrevented).toBe(true);
  });
});
