/**
 * The room as the UI shows it, rebuilt from the shell's events.
 *
 * A pure reducer: the shell sends the full room view on every change (`room`), and a few
 * smaller events in between (my mute, my hand, levels, an invitation, leaving). Keeping
 * it pure keeps the order of events testable without a window.
 */
import type { Level, Member, Room, RoomLeftReason, UiEvent } from './types';

export interface RoomState {
  /** The room I am in, or `null`. */
  room: Room | null;
  /** A moderator invited me to the stage and I have not answered yet. */
  invited: boolean;
  /** Why I left the last room, until the next room starts. */
  left: RoomLeftReason | null;
  /** The latest speaking level of each member who has one. */
  levels: Record<string, Level>;
}

export const emptyRoomState: RoomState = { room: null, invited: false, left: null, levels: {} };

function updateMe(room: Room, change: (m: Member) => Member): Room {
  const map = (list: Member[]) => list.map((m) => (m.userId === room.me ? change(m) : m));
  return { ...room, stage: map(room.stage), audience: map(room.audience) };
}

/** The next state after `event`; events about other things return `state` itself. */
export function reduceRoom(state: RoomState, event: UiEvent): RoomState {
  switch (event.type) {
    case 'room': {
      const room = event.room;
      const present = new Set([...room.stage, ...room.audience].map((m) => m.userId));
      const levels: Record<string, Level> = {};
      for (const [id, level] of Object.entries(state.levels)) if (present.has(id)) levels[id] = level;
      return { room, invited: room.invitedToSpeak, left: null, levels };
    }
    case 'levels': {
      if (!state.room) return state;
      const levels: Record<string, Level> = {};
      for (const level of event.levels) levels[level.userId] = level;
      return { ...state, levels };
    }
    case 'speak_invite':
      return state.room ? { ...state, invited: true } : state;
    case 'room_left':
      return { room: null, invited: false, left: event.reason, levels: {} };
    case 'muted_changed': {
      if (!state.room) return state;
      const room = updateMe({ ...state.room, muted: event.muted }, (m) => ({ ...m, muted: event.muted }));
      return { ...state, room };
    }
    case 'hand_changed': {
      if (!state.room) return state;
      const me = state.room.me;
      const others = state.room.hands.filter((id) => id !== me);
      const hands = event.raised
        ? state.room.hands.includes(me)
          ? state.room.hands
          : [...others, me]
        : others;
      const room = updateMe({ ...state.room, hands }, (m) => ({ ...m, handRaised: event.raised }));
      return { ...state, room };
    }
    default:
      return state;
  }
}

/** Every member of the room, stage first. */
export function members(room: Room): Member[] {
  return [...room.stage, ...room.audience];
}

/** My own member entry. */
export function me(room: Room): Member | undefined {
  return members(room).find((m) => m.userId === room.me);
}

/** Whether I may moderate (host or moderator). */
export function canModerate(room: Room): boolean {
  return room.myRole === 'host' || room.myRole === 'moderator';
}

/** Whether I am on the stage (and so have a microphone to mute). */
export function onStage(room: Room): boolean {
  return room.stage.some((m) => m.userId === room.me);
}

/**
 * People with a raised hand, in the order they raised it (the shell's `hands` queue).
 * Ids without a member (someone who just left) are skipped; duplicates count once.
 */
export function handQueue(room: Room): Member[] {
  const byId = new Map(members(room).map((m) => [m.userId, m]));
  const seen = new Set<string>();
  const queue: Member[] = [];
  for (const id of room.hands) {
    const member = byId.get(id);
    if (member && !seen.has(id)) {
      seen.add(id);
      queue.push(member);
    }
  }
  return queue;
}

/** My place in the hand queue, from 1, or `null` when my hand is down. */
export function myHandPosition(room: Room): number | null {
  const index = handQueue(room).findIndex((m) => m.userId === room.me);
  return index < 0 ? null : index + 1;
}
