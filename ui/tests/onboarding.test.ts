// Onboarding: hosting here is the default, handles are checked while typing, and the
// right commands run in order.
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '$lib/api';
import Onboarding from '../src/components/Onboarding.svelte';
import { AppStore } from '../src/lib/app.svelte';
import en from '../src/locales/en.json';
import { withApp } from './fixtures';
import { resetApi } from './api-mock';

vi.mock('$lib/api', () => import('./api-mock'));

function setup() {
  const app = new AppStore();
  app.phase = 'onboarding';
  render(Onboarding, withApp(app));
  return app;
}

async function fill(handle: string, name: string) {
  await fireEvent.input(screen.getByTestId('onboarding-handle'), { target: { value: handle } });
  await fireEvent.input(screen.getByTestId('onboarding-display-name'), { target: { value: name } });
}

describe('onboarding', () => {
  beforeEach(() => resetApi());

  it('defaults to hosting on this computer and asks for nothing else', () => {
    setup();
    expect(screen.getByTestId('onboarding-host').getAttribute('aria-checked')).toBe('true');
    expect(screen.getByTestId('onboarding-use-server').getAttribute('aria-checked')).toBe('false');
    expect(screen.queryByTestId('onboarding-server-url')).toBeNull();
    expect(document.querySelectorAll('input')).toHaveLength(2);
  });

  it('explains a wrong character as it is typed and sends nothing', async () => {
    setup();
    await fill('Ada', 'Ada');
    expect(screen.getByTestId('onboarding-handle-error').textContent).toContain('lower-case');
    await fireEvent.click(screen.getByTestId('onboarding-submit'));
    expect(vi.mocked(api.hostLocally)).not.toHaveBeenCalled();
    expect(vi.mocked(api.createAccount)).not.toHaveBeenCalled();
  });

  it('keeps "too short" until the field is left or the form is sent', async () => {
    setup();
    await fill('ad', 'Ada');
    expect(screen.queryByTestId('onboarding-handle-error')).toBeNull();
    await fireEvent.click(screen.getByTestId('onboarding-submit'));
    expect(screen.getByTestId('onboarding-handle-error').textContent).toBe('A handle is 3 to 30 characters long.');
  });

  it('hosts locally, then creates the account, then shows the app', async () => {
    const app = setup();
    vi.mocked(api.hostLocally).mockResolvedValue({ port: 7300, urls: ['ws://127.0.0.1:7300'] });
    vi.mocked(api.createAccount).mockResolvedValue({ userId: 'u1', handle: 'ada_l', displayName: 'Ada L' });
    vi.mocked(api.listRooms).mockResolvedValue([]);
    vi.mocked(api.dmList).mockResolvedValue([]);
    await fill('ada_l', '  Ada L  ');
    await fireEvent.click(screen.getByTestId('onboarding-submit'));
    await waitFor(() => expect(app.phase).toBe('ready'));
    expect(vi.mocked(api.hostLocally)).toHaveBeenCalledTimes(1);
    expect(vi.mocked(api.useServer)).not.toHaveBeenCalled();
    expect(vi.mocked(api.createAccount)).toHaveBeenCalledWith('ada_l', 'Ada L', undefined);
    expect(vi.mocked(api.hostLocally).mock.invocationCallOrder[0]).toBeLessThan(
      vi.mocked(api.createAccount).mock.invocationCallOrder[0],
    );
    expect(app.hosting?.port).toBe(7300);
  });

  it('uses a server when chosen, adding wss:// to a bare address', async () => {
    setup();
    vi.mocked(api.createAccount).mockResolvedValue({ userId: 'u1', handle: 'ada', displayName: 'Ada' });
    await fireEvent.click(screen.getByTestId('onboarding-use-server'));
    await fireEvent.input(screen.getByTestId('onboarding-server-url'), { target: { value: 'salon.example.org' } });
    await fill('ada', 'Ada');
    await fireEvent.click(screen.getByTestId('onboarding-submit'));
    await waitFor(() => expect(vi.mocked(api.createAccount)).toHaveBeenCalled());
    expect(vi.mocked(api.useServer)).toHaveBeenCalledWith('wss://salon.example.org');
    expect(vi.mocked(api.hostLocally)).not.toHaveBeenCalled();
  });

  it('shows a refused handle as a sentence to act on and stays on the form', async () => {
    const app = setup();
    vi.mocked(api.createAccount).mockRejectedValue({ code: 'handle_taken', message: 'handle taken' });
    await fill('ada', 'Ada');
    await fireEvent.click(screen.getByTestId('onboarding-submit'));
    const error = await screen.findByTestId('onboarding-error');
    expect(error.textContent).toContain(en['error.handle_taken']);
    expect(app.phase).toBe('onboarding');
  });

  it('moves between the two choices with the arrow keys', async () => {
    setup();
    await fireEvent.keyDown(screen.getByTestId('onboarding-host'), { key: 'ArrowRight' });
    await waitFor(() => expect(screen.getByTestId('onboarding-use-server').getAttribute('aria-checked')).toBe('true'));
    expect(document.activeElement).toBe(screen.getByTestId('onboarding-use-server'));
  });

  it('asks for an invite code only when the server wants one, and keeps the server set up', async () => {
    setup();
    vi.mocked(api.hostLocally).mockResolvedValue({ port: 7300, urls: [] });
    vi.mocked(api.createAccount)
      .mockRejectedValueOnce({ code: 'invite_required', message: 'invite needed' })
      .mockResolvedValueOnce({ userId: 'u1', handle: 'ada', displayName: 'Ada' });
    expect(screen.queryByTestId('onboarding-invite')).toBeNull();
    await fill('ada', 'Ada');
    await fireEvent.click(screen.getByTestId('onboarding-submit'));
    const invite = await screen.findByTestId('onboarding-invite');
    await fireEvent.input(invite, { target: { value: ' K7X-42 ' } });
    await fireEvent.click(screen.getByTestId('onboarding-submit'));
    await waitFor(() => expect(vi.mocked(api.createAccount)).toHaveBeenCalledTimes(2));
    expect(vi.mocked(api.createAccount).mock.calls[0]).toEqual(['ada', 'Ada', undefined]);
    expect(vi.mocked(api.createAccount).mock.calls[1]).toEqual(['ada', 'Ada', 'K7X-42']);
    expect(vi.mocked(api.hostLocally)).toHaveBeenCalledTimes(1);
  });
});
