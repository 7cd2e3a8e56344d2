/**
 * The one door to the Rust backend: every command and the event stream.
 *
 * Components never call `invoke` or `listen` themselves; they import `api` and
 * `onEvent` from `$lib/api`. That keeps the command names and argument shapes in one
 * file next to the contract, and lets component tests replace this module (the Rust
 * backend cannot run inside Vitest).
 */
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import type {
  Account,
  Language,
  AppState,
  Conversation,
  Devices,
  DmMessage,
  Hosting,
  Hotkey,
  HotkeyAction,
  Role,
  Room,
  RoomSummary,
  SafetyNumber,
  Settings,
  UiEvent,
  Visibility,
} from './types';
import { EVENT_NAME } from './bindings';
import { CommandError } from './errors';

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw CommandError.from(raw);
  }
}

/** Every command of the contract, with its arguments named as the shell expects. */
export const api = {
  appState: () => call<AppState>('app_state'),
  hostLocally: (port?: number) => call<Hosting>('host_locally', port === undefined ? {} : { port }),
  useServer: (url: string) => call<void>('use_server', { url }),
  createAccount: (handle: string, displayName: string, invite?: string) =>
    call<Account>('create_account', { handle, displayName, invite: invite ?? null }),

  listRooms: () => call<RoomSummary[]>('list_rooms'),
  createRoom: (title: string, visibility: Visibility) => call<Room>('create_room', { title, visibility }),
  joinRoom: (roomId: string) => call<Room>('join_room', { roomId }),
  leaveRoom: () => call<void>('leave_room'),
  endRoom: () => call<void>('end_room'),
  setMuted: (muted: boolean) => call<void>('set_muted', { muted }),
  raiseHand: () => call<void>('raise_hand'),
  lowerHand: () => call<void>('lower_hand'),
  acceptSpeakInvite: () => call<void>('accept_speak_invite'),
  declineSpeakInvite: () => call<void>('decline_speak_invite'),
  inviteToSpeak: (userId: string) => call<void>('invite_to_speak', { userId }),
  moveToAudience: (userId: string) => call<void>('move_to_audience', { userId }),
  setRole: (userId: string, role: Exclude<Role, 'host'>) => call<void>('set_role', { userId, role }),
  moderatorMute: (userId: string) => call<void>('moderator_mute', { userId }),
  moderatorUnmute: (userId: string) => call<void>('moderator_unmute', { userId }),
  removeMember: (userId: string) => call<void>('remove_member', { userId }),
  banMember: (userId: string) => call<void>('ban_member', { userId }),
  setVolume: (userId: string, percent: number) => call<void>('set_volume', { userId, percent }),

  getSettings: () => call<Settings>('get_settings'),
  setHotkey: (action: HotkeyAction, accelerator: string) => call<Hotkey[]>('set_hotkey', { action, accelerator }),
  listDevices: () => call<Devices>('list_devices'),
  setDevices: (input: string | null, output: string | null) => call<void>('set_devices', { input, output }),
  setLanguage: (lang: Language) => call<void>('set_language', { lang }),

  dmList: () => call<Conversation[]>('dm_list'),
  dmOpen: (handle: string) => call<Conversation>('dm_open', { handle }),
  dmHistory: (conversationId: string) => call<DmMessage[]>('dm_history', { conversationId }),
  dmSend: (conversationId: string, text: string) => call<DmMessage>('dm_send', { conversationId, text }),
  dmMarkRead: (conversationId: string) => call<void>('dm_mark_read', { conversationId }),
  dmSafetyNumber: (conversationId: string) => call<SafetyNumber>('dm_safety_number', { conversationId }),
  dmVerify: (conversationId: string) => call<void>('dm_verify', { conversationId }),
};

export type Api = typeof api;

/** Calls `handler` for every event from the shell; resolves to a function that stops. */
export async function onEvent(handler: (event: UiEvent) => void): Promise<() => void> {
  return listen<UiEvent>(EVENT_NAME, (e) => handler(e.payload));
}
