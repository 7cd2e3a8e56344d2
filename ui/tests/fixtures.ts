// Builders for the shell's types, so each test states only what it is about.
import type {
  AppState,
  Conversation,
  DmMessage,
  Hotkey,
  Member,
  Room,
  Settings,
} from '../src/lib/types';
import { APP_CONTEXT, AppStore } from '../src/lib/app.svelte';

export function member(handle: string, extra: Partial<Member> = {}): Member {
  return {
    userId: `u-${handle}`,
    handle,
    displayName: handle.charAt(0).toUpperCase() + handle.slice(1),
    role: 'listener',
    muted: true,
    moderatorMuted: false,
    handRaised: false,
    volume: 100,
    ...extra,
  };
}

export function room(extra: Partial<Room> = {}): Room {
  return {
    roomId: 'r-1',
    title: 'Morning talk',
    visibility: 'public',
    me: 'u-ada',
    myRole: 'host',
    stage: [member('ada', { role: 'host', muted: false })],
    audience: [],
    hands: [],
    invitedToSpeak: false,
    muted: false,
    ...extra,
  };
}

export function hotkeys(): Hotkey[] {
  return [
    { action: 'toggle_mute', accelerator: 'Ctrl+Shift+M', registered: true, error: null },
    { action: 'toggle_hand', accelerator: 'Ctrl+Shift+H', registered: true, error: null },
    { action: 'push_to_talk', accelerator: '', registered: false, error: null },
  ];
}

export function settings(extra: Partial<Settings> = {}): Settings {
  return {
    hotkeys: hotkeys(),
    inputDevice: null,
    outputDevice: null,
    language: 'en',
    globalShortcutsAvailable: true,
    globalShortcutsNote: null,
    ...extra,
  };
}

export function appState(extra: Partial<AppState> = {}): AppState {
  return {
    needsOnboarding: false,
    serverUrl: null,
    hosting: { port: 7300, urls: ['ws://127.0.0.1:7300'] },
    account: { userId: 'u-ada', handle: 'ada', displayName: 'Ada' },
    connection: { state: 'connected', attempt: null, nextInMs: null, reason: null },
    settings: settings(),
    room: null,
    ...extra,
  };
}

export function conversation(id: string, peer: string, extra: Partial<Conversation> = {}): Conversation {
  return {
    conversationId: id,
    peers: [{ userId: `u-${peer}`, handle: peer, displayName: peer }],
    unread: 0,
    lastText: null,
    lastAt: null,
    verified: false,
    ...extra,
  };
}

export function message(id: string, conversationId: string, sentAt: number, extra: Partial<DmMessage> = {}): DmMessage {
  return {
    messageId: id,
    conversationId,
    sender: { userId: 'u-grace', handle: 'grace', displayName: 'Grace' },
    text: `text ${id}`,
    sentAt,
    mine: false,
    notice: false,
    ...extra,
  };
}

/** A store that is signed in and makes no sound. */
export function store(): AppStore {
  const app = new AppStore();
  app.sounds = false;
  app.phase = 'ready';
  app.account = { userId: 'u-ada', handle: 'ada', displayName: 'Ada' };
  app.settings = settings();
  app.hotkeys = hotkeys();
  return app;
}

/** Render options that give a component `app` as its store. */
export function withApp(app: AppStore): { props: Record<string, never>; context: Map<unknown, unknown> };
export function withApp<P extends object>(app: AppStore, props: P): { props: P; context: Map<unknown, unknown> };
export function withApp(app: AppStore, props: object = {}) {
  return { props, context: new Map<unknown, unknown>([[APP_CONTEXT, app]]) };
}
