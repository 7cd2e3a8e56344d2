// The room screen driven by the shell's events: speaking rings from levels, my mute and
// hand, the moderator's hand queue and menus, the invitation to speak.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '$lib/api';
import Shell from '../src/components/Shell.svelte';
import type { AppStore } from '../src/lib/app.svelte';
import type { Room } from '../src/lib/types';
import { member, room, store, withApp } from './fixtures';
import { resetApi } from './api-mock';
import en from '../src/locales/en.json';

vi.mock('$lib/api', () => import('./api-mock'));

function moderatorRoom(): Room {
  return room({
    stage: [member('ada', { role: 'host', muted: false }), member('bob', { role: 'speaker', muted: false })],
    audience: [member('cy', { handRaised: true }), member('dee'), member('eve', { handRaised: true })],
    hands: ['u-eve', 'u-cy'],
  });
}

function listenerRoom(): Room {
  return room({
    me: 'u-cy',
    myRole: 'listener',
    muted: true,
    stage: [member('ada', { role: 'host', muted: false })],
    audience: [member('cy'), member('dee', { handRaised: true })],
    hands: ['u-dee'],
  });
}

function open(r: Room): AppStore {
  const app = store();
  app.handle({ type: 'room', room: r });
  app.view = 'room';
  render(Shell, withApp(app));
  return app;
}

describe('room view', () => {
  beforeEach(() => resetApi());
  afterEach(() => vi.useRealTimers());

  it('puts everyone on the stage or in the audience with their ids for the end-to-end test', () => {
    open(moderatorRoom());
    expect(screen.getByTestId('room').dataset.roomId).toBe('r-1');
    expect(screen.getByTestId('room-title').textContent).toBe('Morning talk');
    for (const h of ['ada', 'bob']) expect(screen.getByTestId(`stage-member-${h}`)).toBeTruthy();
    for (const h of ['cy', 'dee', 'eve']) expect(screen.getByTestId(`audience-member-${h}`)).toBeTruthy();
  });

  it('turns the speaking ring on from levels and off again once they stop', async () => {
    const app = open(moderatorRoom());
    const bob = screen.getByTestId('stage-member-bob');
    expect(bob.dataset.speaking).toBe('false');
    app.handle({ type: 'levels', levels: [{ userId: 'u-bob', level: 0.7, speaking: true }] });
    await waitFor(() => expect(bob.dataset.speaking).toBe('true'));
    expect(screen.getByTestId('stage-member-ada').dataset.speaking).toBe('false');
    for (let i = 0; i < 10; i++) app.handle({ type: 'levels', levels: [] });
    await waitFor(() => expect(bob.dataset.speaking).toBe('false'));
  });

  it('mutes through the shell and follows a mute done elsewhere (hotkey, tray)', async () => {
    const app = open(moderatorRoom());
    const mute = screen.getByTestId('room-mute');
    expect(mute.dataset.muted).toBe('false');
    await fireEvent.click(mute);
    expect(vi.mocked(api.setMuted)).toHaveBeenCalledWith(true);
    await waitFor(() => expect(mute.dataset.muted).toBe('true'));
    expect(mute.getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('stage-member-ada').dataset.muted).toBe('true');
    app.handle({ type: 'muted_changed', muted: false });
    await waitFor(() => expect(mute.dataset.muted).toBe('false'));
  });

  it('shows a failed command as a message and keeps the old state', async () => {
    const app = open(moderatorRoom());
    vi.mocked(api.setMuted).mockRejectedValue({ code: 'not_connected', message: 'offline' });
    await fireEvent.click(screen.getByTestId('room-mute'));
    await waitFor(() => expect(app.toasts.map((t) => t.text)).toEqual([en['error.not_connected']]));
    expect(screen.getByTestId('room-mute').dataset.muted).toBe('false');
  });

  it('does not stack the same message twice', async () => {
    const app = open(moderatorRoom());
    app.toast('Salon could not open that audio device.');
    app.toast('Salon could not open that audio device.');
    expect(app.toasts).toHaveLength(1);
  });

  it('lists raised hands for moderators in the order they were raised, each with an invite', async () => {
    open(moderatorRoom());
    const queue = screen.getByTestId('hand-queue');
    const entries = within(queue).getAllByRole('listitem').map((li) => li.dataset.testid);
    expect(entries).toEqual(['hand-eve', 'hand-cy']);
    await fireEvent.click(screen.getByTestId('invite-cy'));
    expect(vi.mocked(api.inviteToSpeak)).toHaveBeenCalledWith('u-cy');
    await fireEvent.click(screen.getByTestId('audience-invite-dee'));
    expect(vi.mocked(api.inviteToSpeak)).toHaveBeenCalledWith('u-dee');
  });

  it('offers moderation only to moderators', () => {
    open(listenerRoom());
    expect(screen.queryByTestId('hand-queue')).toBeNull();
    expect(screen.queryByTestId('room-end')).toBeNull();
    expect(screen.queryByTestId('audience-invite-dee')).toBeNull();
  });

  it('raises my hand and tells me my place in the queue', async () => {
    open(listenerRoom());
    const hand = screen.getByTestId('room-hand');
    expect(screen.queryByTestId('room-mute')).toBeNull();
    await fireEvent.click(hand);
    expect(vi.mocked(api.raiseHand)).toHaveBeenCalled();
    await waitFor(() => expect(hand.dataset.raised).toBe('true'));
    expect(screen.getByTestId('room-hand-position').textContent).toBe('You are #2 in the queue');
    await fireEvent.click(hand);
    expect(vi.mocked(api.lowerHand)).toHaveBeenCalled();
  });

  it('asks when invited to speak and answers the shell', async () => {
    const app = open(listenerRoom());
    expect(screen.queryByTestId('speak-invite-accept')).toBeNull();
    app.handle({ type: 'speak_invite' });
    await fireEvent.click(await screen.findByTestId('speak-invite-accept'));
    expect(vi.mocked(api.acceptSpeakInvite)).toHaveBeenCalled();
    await waitFor(() => expect(screen.queryByTestId('speak-invite-accept')).toBeNull());
    app.handle({ type: 'speak_invite' });
    await fireEvent.click(await screen.findByTestId('speak-invite-decline'));
    expect(vi.mocked(api.declineSpeakInvite)).toHaveBeenCalled();
  });

  it("sets someone's volume from their menu, remembered by the shell", async () => {
    open(moderatorRoom());
    const bob = screen.getByTestId('stage-member-bob');
    await fireEvent.click(within(bob).getByTestId('person-button'));
    const slider = within(bob).getByTestId('volume-slider') as HTMLInputElement;
    expect(slider.value).toBe('100');
    await fireEvent.input(slider, { target: { value: '150' } });
    await waitFor(() => expect(vi.mocked(api.setVolume)).toHaveBeenCalledWith('u-bob', 150));
  });

  it('moderator actions in the menu call the shell; removal asks first', async () => {
    open(moderatorRoom());
    const bob = screen.getByTestId('stage-member-bob');
    await fireEvent.click(within(bob).getByTestId('person-button'));
    await fireEvent.click(within(bob).getByTestId('menu-make-moderator'));
    expect(vi.mocked(api.setRole)).toHaveBeenCalledWith('u-bob', 'moderator');
    await fireEvent.click(within(bob).getByTestId('person-button'));
    await fireEvent.click(within(bob).getByTestId('menu-ban'));
    expect(vi.mocked(api.banMember)).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId('confirm-dialog-confirm'));
    expect(vi.mocked(api.banMember)).toHaveBeenCalledWith('u-bob');
  });

  it('goes back to the hallway and says why when removed', async () => {
    const app = open(moderatorRoom());
    vi.mocked(api.listRooms).mockResolvedValue([]);
    app.handle({ type: 'room_left', reason: 'removed' });
    await waitFor(() => expect(screen.queryByTestId('room')).toBeNull());
    expect(screen.getByTestId('hallway')).toBeTruthy();
    expect(app.toasts.map((t) => t.text)).toEqual(['A moderator removed you from the room.']);
  });

  it('draws a big audience in pages', async () => {
    const audience = Array.from({ length: 300 }, (_, i) => member(`l${i}`));
    open(room({ audience }));
    expect(screen.getAllByTestId(/^audience-member-/)).toHaveLength(120);
    const more = screen.getByTestId('room-audience-more');
    expect(more.textContent?.trim()).toBe('Show 180 more listeners');
    await fireEvent.click(more);
    expect(screen.getAllByTestId(/^audience-member-/)).toHaveLength(300);
    expect(screen.queryByTestId('room-audience-more')).toBeNull();
  });

  it('closes a menu with Escape and gives focus back to the person', async () => {
    open(moderatorRoom());
    const bob = screen.getByTestId('stage-member-bob');
    const button = within(bob).getByTestId('person-button');
    await fireEvent.click(button);
    await fireEvent.keyDown(within(bob).getByTestId('person-menu'), { key: 'Escape' });
    expect(within(bob).queryByTestId('person-menu')).toBeNull();
    expect(document.activeElement).toBe(button);
  });

  it('ending the room asks first and does not tell the host what they just did', async () => {
    const app = open(moderatorRoom());
    vi.mocked(api.listRooms).mockResolvedValue([]);
    await fireEvent.click(screen.getByTestId('room-end'));
    expect(vi.mocked(api.endRoom)).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId('confirm-dialog-confirm'));
    expect(vi.mocked(api.endRoom)).toHaveBeenCalled();
    app.handle({ type: 'room_left', reason: 'ended' });
    await screen.findByTestId('hallway');
    expect(app.toasts).toEqual([]);
  });
});
