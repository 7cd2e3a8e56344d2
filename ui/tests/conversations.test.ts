// Conversations on screen: unread counts in the list and the navigation, messages
// oldest first, Enter sends, the safety number and its change notice.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '$lib/api';
import Shell from '../src/components/Shell.svelte';
import type { AppStore } from '../src/lib/app.svelte';
import { conversation, message, store, withApp } from './fixtures';
import { resetApi } from './api-mock';

vi.mock('$lib/api', () => import('./api-mock'));

function open(): AppStore {
  const app = store();
  app.conversations = [
    conversation('c-grace', 'grace', { unread: 2, lastAt: 2000, lastText: 'hi' }),
    conversation('c-alan', 'alan', { unread: 0, lastAt: 1000 }),
    conversation('c-edsger', 'edsger', { unread: 3, lastAt: 500 }),
  ];
  app.view = 'messages';
  render(Shell, withApp(app));
  return app;
}

const unreadIn = (handle: string) => within(screen.getByTestId(`dm-conversation-${handle}`)).queryByTestId('dm-unread')?.textContent ?? null;

describe('conversations', () => {
  beforeEach(() => resetApi());

  it('shows unread counts per conversation and their sum in the navigation', () => {
    open();
    expect(unreadIn('grace')).toBe('2');
    expect(unreadIn('alan')).toBeNull();
    expect(unreadIn('edsger')).toBe('3');
    expect(screen.getByTestId('nav-unread').textContent).toBe('5');
  });

  it('counts a new message from someone else and moves that conversation up', async () => {
    const app = open();
    app.handle({ type: 'dm_message', message: message('m9', 'c-alan', 5000, { sender: { userId: 'u-alan', handle: 'alan', displayName: 'alan' } }) });
    await waitFor(() => expect(unreadIn('alan')).toBe('1'));
    expect(screen.getByTestId('nav-unread').textContent).toBe('6');
    const order = screen.getAllByTestId(/^dm-conversation-/).map((el) => el.dataset.testid);
    expect(order[0]).toBe('dm-conversation-alan');
  });

  it('opens a conversation oldest message first and marks it read', async () => {
    open();
    vi.mocked(api.dmHistory).mockResolvedValue([message('b', 'c-grace', 20), message('a', 'c-grace', 10, { mine: true })]);
    await fireEvent.click(screen.getByTestId('dm-conversation-grace'));
    await waitFor(() => expect(screen.getAllByTestId('dm-message')).toHaveLength(2));
    const shown = screen.getAllByTestId('dm-message');
    expect(shown.map((m) => m.textContent)).toEqual(['text a', 'text b']);
    expect(shown.map((m) => m.dataset.mine)).toEqual(['true', 'false']);
    expect(vi.mocked(api.dmMarkRead)).toHaveBeenCalledWith('c-grace');
    expect(unreadIn('grace')).toBeNull();
    expect(screen.getByTestId('nav-unread').textContent).toBe('3');
  });

  it('sends on Enter, keeps Shift+Enter for a new line', async () => {
    open();
    vi.mocked(api.dmHistory).mockResolvedValue([]);
    vi.mocked(api.dmSend).mockResolvedValue(message('n1', 'c-grace', 99, { text: 'hello there', mine: true }));
    await fireEvent.click(screen.getByTestId('dm-conversation-grace'));
    const input = (await screen.findByTestId('dm-input')) as HTMLTextAreaElement;
    await fireEvent.input(input, { target: { value: 'hello there' } });
    await fireEvent.keyDown(input, { key: 'Enter', shiftKey: true });
    expect(vi.mocked(api.dmSend)).not.toHaveBeenCalled();
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect(vi.mocked(api.dmSend)).toHaveBeenCalledWith('c-grace', 'hello there');
    await waitFor(() => expect(screen.getAllByTestId('dm-message').map((m) => m.textContent)).toEqual(['hello there']));
    expect(input.value).toBe('');
  });

  it('starts a conversation by exact handle and refuses a malformed one', async () => {
    open();
    vi.mocked(api.dmOpen).mockResolvedValue(conversation('c-barbara', 'barbara'));
    vi.mocked(api.dmHistory).mockResolvedValue([]);
    await fireEvent.input(screen.getByTestId('dm-open-handle'), { target: { value: 'Bar bara' } });
    await fireEvent.click(screen.getByTestId('dm-open-submit'));
    expect(vi.mocked(api.dmOpen)).not.toHaveBeenCalled();
    await fireEvent.input(screen.getByTestId('dm-open-handle'), { target: { value: '@barbara' } });
    await fireEvent.click(screen.getByTestId('dm-open-submit'));
    expect(vi.mocked(api.dmOpen)).toHaveBeenCalledWith('barbara');
    await screen.findByTestId('dm-conversation-barbara');
    await screen.findByTestId('dm-conversation');
  });

  it('shows a notice when the safety number changed, and verifying clears it', async () => {
    const app = open();
    vi.mocked(api.dmHistory).mockResolvedValue([]);
    vi.mocked(api.dmSafetyNumber).mockResolvedValue({ digits: '123451234512345', qrPayload: 'x', verified: false });
    await fireEvent.click(screen.getByTestId('dm-conversation-grace'));
    app.handle({ type: 'safety_number_changed', conversationId: 'c-grace' });
    const notice = await screen.findByTestId('dm-safety-changed');
    expect(notice.textContent).toContain('safety number with grace changed');
    await fireEvent.click(screen.getByTestId('dm-safety-number'));
    const digits = await screen.findByTestId('safety-number-digits');
    expect(digits.textContent).toBe('123451234512345');
    expect(digits.children).toHaveLength(3);
    await fireEvent.click(screen.getByTestId('safety-number-verify'));
    expect(vi.mocked(api.dmVerify)).toHaveBeenCalledWith('c-grace');
    await screen.findByTestId('safety-number-verified');
    expect(screen.queryByTestId('dm-safety-changed')).toBeNull();
  });
});

describe('a shell without messages yet', () => {
  beforeEach(() => resetApi());

  it('says so on the Messages screen instead of raising an error at every start', async () => {
    const app = store();
    vi.mocked(api.dmList).mockRejectedValue({ code: 'unavailable', message: 'Messages are not available in this build.' });
    await app.refreshConversations();
    expect(app.toasts).toEqual([]);
    app.view = 'messages';
    render(Shell, withApp(app));
    expect(screen.getByTestId('dm-unavailable')).toBeTruthy();
    expect(screen.queryByTestId('dm-open-handle')).toBeNull();
  });

  it('still reports other failures', async () => {
    const app = store();
    vi.mocked(api.dmList).mockRejectedValue({ code: 'not_connected', message: 'offline' });
    await app.refreshConversations();
    expect(app.toasts).toHaveLength(1);
    expect(app.dmsAvailable).toBe(true);
  });
});
