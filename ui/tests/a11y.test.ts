// Every control on every screen has a name a screen reader can say, and is reachable
// by keyboard (no positive tabindex, no click handlers on things that cannot take focus).
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '$lib/api';
import Shell from '../src/components/Shell.svelte';
import Onboarding from '../src/components/Onboarding.svelte';
import { AppStore } from '../src/lib/app.svelte';
import { conversation, member, message, room, store, withApp } from './fixtures';
import { resetApi } from './api-mock';

vi.mock('$lib/api', () => import('./api-mock'));

function accessibleName(el: HTMLElement): string {
  const labelledBy = el.getAttribute('aria-labelledby');
  if (labelledBy) {
    return labelledBy
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
      .trim();
  }
  const aria = el.getAttribute('aria-label');
  if (aria) return aria.trim();
  if ('labels' in el) {
    const labels = (el as HTMLInputElement).labels;
    if (labels && labels.length) return Array.from(labels).map((l) => l.textContent ?? '').join(' ').trim();
  }
  if (el.tagName === 'BUTTON') return (el.textContent ?? '').trim() || (el.getAttribute('title') ?? '');
  return el.getAttribute('title') ?? '';
}

function checkControls() {
  const controls = Array.from(document.body.querySelectorAll<HTMLElement>('button, input, select, textarea, [role="radio"]'));
  expect(controls.length).toBeGreaterThan(0);
  const nameless = controls.filter((el) => accessibleName(el) === '').map((el) => el.outerHTML.slice(0, 120));
  expect(nameless).toEqual([]);
  const positive = Array.from(document.body.querySelectorAll('[tabindex]')).filter((el) => Number(el.getAttribute('tabindex')) > 0);
  expect(positive).toEqual([]);
}

describe('accessible names', () => {
  beforeEach(() => resetApi());

  it('onboarding, with the server address shown', async () => {
    const app = new AppStore();
    render(Onboarding, withApp(app));
    await fireEvent.click(screen.getByTestId('onboarding-use-server'));
    checkControls();
  });

  it('hallway with rooms', () => {
    const app = store();
    app.rooms = [{ roomId: 'r1', title: 'Tea', speakers: ['Ada'], listenerCount: 2 }];
    render(Shell, withApp(app));
    checkControls();
  });

  it('a room as moderator, with a menu open and the audience inviteable', async () => {
    const app = store();
    app.handle({
      type: 'room',
      room: room({
        stage: [member('ada', { role: 'host', muted: false }), member('bob', { role: 'speaker' })],
        audience: [member('cy', { handRaised: true })],
        hands: ['u-cy'],
      }),
    });
    app.view = 'room';
    render(Shell, withApp(app));
    await fireEvent.click(within(screen.getByTestId('stage-member-bob')).getByTestId('person-button'));
    checkControls();
  });

  it('a room as listener, invited to speak', () => {
    const app = store();
    app.handle({ type: 'room', room: room({ me: 'u-cy', myRole: 'listener', audience: [member('cy')], invitedToSpeak: true }) });
    app.view = 'room';
    render(Shell, withApp(app));
    checkControls();
  });

  it('a conversation with messages and the safety number open', async () => {
    const app = store();
    app.conversations = [conversation('c1', 'grace', { unread: 1, lastAt: 5 })];
    vi.mocked(api.dmHistory).mockResolvedValue([message('m1', 'c1', 1)]);
    vi.mocked(api.dmSafetyNumber).mockResolvedValue({ digits: '12345', qrPayload: '', verified: false });
    app.view = 'messages';
    render(Shell, withApp(app));
    await fireEvent.click(screen.getByTestId('dm-conversation-grace'));
    await fireEvent.click(await screen.findByTestId('dm-safety-number'));
    await screen.findByTestId('safety-number-digits');
    checkControls();
  });

  it('settings', async () => {
    const app = store();
    app.view = 'settings';
    render(Shell, withApp(app));
    checkControls();
  });
});
