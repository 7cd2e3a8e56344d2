// The room reducer: the room view rebuilt from the shell's events, and the hand queue.
import { describe, expect, it } from 'vitest';
import { emptyRoomState, handQueue, myHandPosition, reduceRoom, canModerate, onStage } from '../src/lib/room';
import { member, room } from './fixtures';
import type { UiEvent } from '../src/lib/types';

describe('reduceRoom', () => {
  it('takes the full room from a room event, invitation included', () => {
    const r = room({ invitedToSpeak: true });
    const state = reduceRoom(emptyRoomState, { type: 'room', room: r });
    expect(state.room).toBe(r);
    expect(state.invited).toBe(true);
    expect(state.left).toBeNull();
  });

  it('keeps levels only for people still in the room', () => {
    const r = room({ audience: [member('bob')] });
    let state = reduceRoom(emptyRoomState, { type: 'room', room: r });
    state = reduceRoom(state, {
      type: 'levels',
      levels: [
        { userId: 'u-ada', level: 0.5, speaking: true },
        { userId: 'u-bob', level: 0.1, speaking: false },
      ],
    });
    expect(Object.keys(state.levels).sort()).toEqual(['u-ada', 'u-bob']);
    state = reduceRoom(state, { type: 'room', room: room() });
    expect(Object.keys(state.levels)).toEqual(['u-ada']);
  });

  it('a levels event replaces the previous one: someone missing has gone quiet', () => {
    let state = reduceRoom(emptyRoomState, { type: 'room', room: room({ stage: [member('ada'), member('bob')] }) });
    state = reduceRoom(state, { type: 'levels', levels: [{ userId: 'u-bob', level: 0.8, speaking: true }] });
    state = reduceRoom(state, { type: 'levels', levels: [{ userId: 'u-ada', level: 0.3, speaking: true }] });
    expect(state.levels['u-bob']).toBeUndefined();
    expect(state.levels['u-ada']?.speaking).toBe(true);
  });

  it('ignores levels, invitations and my changes when not in a room', () => {
    const events: UiEvent[] = [
      { type: 'levels', levels: [{ userId: 'x', level: 1, speaking: true }] },
      { type: 'speak_invite' },
      { type: 'muted_changed', muted: true },
      { type: 'hand_changed', raised: true },
    ];
    for (const event of events) {
      expect(reduceRoom(emptyRoomState, event)).toBe(emptyRoomState);
    }
  });

  it('marks an invitation and clears it with the next room view', () => {
    let state = reduceRoom(emptyRoomState, { type: 'room', room: room() });
    state = reduceRoom(state, { type: 'speak_invite' });
    expect(state.invited).toBe(true);
    state = reduceRoom(state, { type: 'room', room: room({ invitedToSpeak: false }) });
    expect(state.invited).toBe(false);
  });

  it('applies my mute to the room and to my member entry only', () => {
    const r = room({ stage: [member('ada', { role: 'host', muted: false }), member('bob', { role: 'speaker', muted: false })] });
    let state = reduceRoom(emptyRoomState, { type: 'room', room: r });
    state = reduceRoom(state, { type: 'muted_changed', muted: true });
    expect(state.room?.muted).toBe(true);
    expect(state.room?.stage.map((m) => m.muted)).toEqual([true, false]);
  });

  it('puts my raised hand at the end of the queue once, and takes it out when lowered', () => {
    const r = room({
      me: 'u-cy',
      myRole: 'listener',
      audience: [member('bob', { handRaised: true }), member('cy')],
      hands: ['u-bob'],
    });
    let state = reduceRoom(emptyRoomState, { type: 'room', room: r });
    state = reduceRoom(state, { type: 'hand_changed', raised: true });
    state = reduceRoom(state, { type: 'hand_changed', raised: true });
    expect(state.room?.hands).toEqual(['u-bob', 'u-cy']);
    expect(state.room?.audience.find((m) => m.userId === 'u-cy')?.handRaised).toBe(true);
    state = reduceRoom(state, { type: 'hand_changed', raised: false });
    expect(state.room?.hands).toEqual(['u-bob']);
  });

  it('forgets the room, levels and invitation when leaving, and says why', () => {
    let state = reduceRoom(emptyRoomState, { type: 'room', room: room({ invitedToSpeak: true }) });
    state = reduceRoom(state, { type: 'room_left', reason: 'banned' });
    expect(state).toEqual({ room: null, invited: false, left: 'banned', levels: {} });
  });

  it('leaves state untouched for events about other things', () => {
    const state = reduceRoom(emptyRoomState, { type: 'room', room: room() });
    expect(reduceRoom(state, { type: 'dm_changed', conversations: [] })).toBe(state);
  });
});

describe('hand queue', () => {
  const r = room({
    me: 'u-dee',
    audience: [member('bob'), member('cy'), member('dee'), member('eve')],
    hands: ['u-eve', 'u-bob', 'u-gone', 'u-dee', 'u-bob'],
  });

  it('follows the order hands were raised, skipping people who left and duplicates', () => {
    expect(handQueue(r).map((m) => m.handle)).toEqual(['eve', 'bob', 'dee']);
  });

  it('tells me my place from 1, or null when my hand is down', () => {
    expect(myHandPosition(r)).toBe(3);
    expect(myHandPosition({ ...r, me: 'u-cy' })).toBeNull();
  });

  it('knows who moderates and who is on stage', () => {
    expect(canModerate(room({ myRole: 'host' }))).toBe(true);
    expect(canModerate(room({ myRole: 'moderator' }))).toBe(true);
    expect(canModerate(room({ myRole: 'speaker' }))).toBe(false);
    expect(onStage(room())).toBe(true);
    expect(onStage(room({ me: 'u-bob', audience: [member('bob')] }))).toBe(false);
  });
});
