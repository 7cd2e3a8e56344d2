/**
 * The app's state and the actions people take, in one reactive store.
 *
 * It loads the startup state, listens to the shell's event stream and folds every event
 * into state through the pure reducers beside it (`room.ts`, `dms.ts`, `connection.ts`).
 * Components read from it and call its methods; a failed command becomes a message a
 * person can act on (see `errors.ts`) instead of an exception.
 */
import { getContext, setContext } from 'svelte';
import { api, onEvent } from '$lib/api';
import type {
  Account,
  AppState,
  Conversation,
  Devices,
  DmMessage,
  Hosting,
  Hotkey,
  HotkeyAction,
  Room,
  RoomSummary,
  Settings,
  UiEvent,
  Visibility,
} from './types';
import { emptyRoomState, reduceRoom, type RoomState } from './room';
import { nextRings } from './levels';
import { transitionSound, type ConnectionStatus } from './connection';
import { appendMessage, applyMessage, markRead, sortConversations, sortMessages } from './dms';
import { CommandError, errorText } from './errors';
import { playCue } from './sounds';
import { preferredLang, setLang, t, type Lang } from './i18n.svelte';

export type View = 'hallway' | 'room' | 'messages' | 'settings';

export interface Toast {
  id: number;
  text: string;
}

export class AppStore {
  phase = $state<'loading' | 'onboarding' | 'ready' | 'failed'>('loading');
  startupError = $state<string | null>(null);
  account = $state<Account | null>(null);
  hosting = $state<Hosting | null>(null);
  serverUrl = $state<string | null>(null);
  settings = $state<Settings | null>(null);
  hotkeys = $state<Hotkey[]>([]);
  devices = $state<Devices>({ inputs: [], outputs: [] });

  view = $state<View>('hallway');
  // Replaced whole on every change (never mutated), so not deeply proxied: levels arrive
  // ten times a second.
  rooms = $state.raw<RoomSummary[]>([]);
  roomsLoaded = $state(false);
  roomState = $state.raw<RoomState>(emptyRoomState);
  rings = $state.raw<Record<string, number>>({});
  /** Volumes set since the app started (the shell remembers them too; this spares a round trip). */
  volumes = $state<Record<string, number>>({});

  connection = $state<ConnectionStatus | null>(null);

  conversations = $state.raw<Conversation[]>([]);
  /** False when this build of the shell has no private messages yet (`unavailable`). */
  dmsAvailable = $state(true);
  openConversation = $state<string | null>(null);
  messages = $state<Record<string, DmMessage[]>>({});
  /** Conversations whose safety number changed since it was last looked at. */
  safetyChanged = $state<Record<string, boolean>>({});

  toasts = $state.raw<Toast[]>([]);
  /** The server set up during onboarding ('local' or its address), so a retry skips it. */
  private serverChosen: string | null = null;
  /** I asked to end the room: its end is no news to me. */
  private ending = false;
  private nextToast = 1;
  private stop: (() => void) | null = null;
  /** Whether the connection cues play (tests turn them off). */
  sounds = true;

  get room(): Room | null {
    return this.roomState.room;
  }

  /** Loads what the shell knows and starts listening to its events. */
  async start(): Promise<void> {
    try {
      this.stop = await onEvent((event) => this.handle(event));
      const state = await api.appState();
      this.apply(state);
    } catch (err) {
      this.startupError = errorText(err);
      this.phase = 'failed';
    }
  }

  /** Stops listening (tests, hot reload). */
  dispose(): void {
    this.stop?.();
    this.stop = null;
  }

  apply(state: AppState): void {
    this.account = state.account;
    this.hosting = state.hosting;
    this.serverUrl = state.serverUrl;
    this.settings = state.settings;
    this.hotkeys = state.settings.hotkeys;
    setLang(preferredLang(state.settings.language));
    this.connection = { report: state.connection, receivedAt: Date.now() };
    if (state.room) this.enterRoom(state.room);
    this.phase = state.needsOnboarding || !state.account ? 'onboarding' : 'ready';
    if (this.phase === 'ready') void this.loadAfterLogin();
  }

  private async loadAfterLogin(): Promise<void> {
    await Promise.all([this.refreshRooms(), this.refreshConversations()]);
  }

  /** Folds one event from the shell into state. */
  handle(event: UiEvent): void {
    switch (event.type) {
      case 'connection': {
        const before = this.connection?.report.state ?? null;
        this.connection = { report: event.connection, receivedAt: Date.now() };
        const cue = transitionSound(before, event.connection.state);
        if (cue && this.sounds) playCue(cue);
        return;
      }
      case 'levels':
        this.roomState = reduceRoom(this.roomState, event);
        this.rings = nextRings(this.rings, this.roomState.levels);
        return;
      case 'room':
      case 'speak_invite':
      case 'muted_changed':
      case 'hand_changed':
        this.roomState = reduceRoom(this.roomState, event);
        return;
      case 'room_left':
        this.roomState = reduceRoom(this.roomState, event);
        this.rings = {};
        // Why I left, unless I did it myself (leaving, or ending the room as its host).
        if (event.reason !== 'left' && !(event.reason === 'ended' && this.ending)) {
          this.toast(t(`room.left_${event.reason}`));
        }
        this.ending = false;
        if (this.view === 'room') this.view = 'hallway';
        void this.refreshRooms();
        return;
      case 'dm_message': {
        const { message } = event;
        const open = this.view === 'messages' ? this.openConversation : null;
        this.conversations = applyMessage(this.conversations, message, open);
        const list = this.messages[message.conversationId];
        if (list) this.messages[message.conversationId] = appendMessage(list, message);
        if (open === message.conversationId && !message.mine) void this.quietly(api.dmMarkRead(open));
        return;
      }
      case 'dm_changed':
        this.conversations = sortConversations(event.conversations);
        return;
      case 'safety_number_changed':
        this.safetyChanged[event.conversationId] = true;
        return;
      case 'hotkeys':
        this.hotkeys = event.hotkeys;
        return;
      case 'devices_changed':
        this.devices = event.devices;
        return;
      case 'error':
        this.toast(errorText(event));
        return;
    }
  }

  // ---- messages for people ----

  /** Shows `text` for a while; the same text already on screen is not repeated. */
  toast(text: string): void {
    const id = this.nextToast++;
    this.toasts = [...this.toasts.filter((t) => t.text !== text), { id, text }];
    setTimeout(() => this.dismiss(id), 8000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  /** Runs a command; on failure shows why and resolves to `undefined`. */
  async run<T>(work: Promise<T>): Promise<T | undefined> {
    try {
      return await work;
    } catch (err) {
      this.toast(errorText(err));
      return undefined;
    }
  }

  private async quietly<T>(work: Promise<T>): Promise<void> {
    try {
      await work;
    } catch {
      // best effort (a read marker): the next list refresh corrects it
    }
  }

  // ---- onboarding ----

  /** Sets the server (or the local one) up and creates the account; throws on failure. */
  async onboard(
    choice: { local: true } | { local: false; url: string },
    handle: string,
    displayName: string,
    invite?: string,
  ): Promise<void> {
    // A second try (another handle, an invite code) keeps the server already set up.
    const where = choice.local ? 'local' : choice.url;
    if (this.serverChosen !== where) {
      if (choice.local) this.hosting = await api.hostLocally();
      else {
        await api.useServer(choice.url);
        this.hosting = null;
        this.serverUrl = choice.url;
      }
      this.serverChosen = where;
    }
    this.account = await api.createAccount(handle, displayName.trim(), invite?.trim() || undefined);
    this.phase = 'ready';
    this.view = 'hallway';
    void this.loadAfterLogin();
  }

  // ---- hallway and room ----

  /** Loads the hallway; `quiet` (the periodic refresh) keeps failures to itself. */
  async refreshRooms(quiet = false): Promise<void> {
    try {
      this.rooms = await api.listRooms();
    } catch (err) {
      if (!quiet) this.toast(errorText(err));
    }
    this.roomsLoaded = true;
  }

  async createRoom(title: string, visibility: Visibility): Promise<boolean> {
    const room = await this.run(api.createRoom(title.trim(), visibility));
    if (!room) return false;
    this.enterRoom(room);
    return true;
  }

  async joinRoom(roomId: string): Promise<void> {
    if (this.room?.roomId === roomId) {
      this.view = 'room';
      return;
    }
    const room = await this.run(api.joinRoom(roomId));
    if (room) this.enterRoom(room);
  }

  private enterRoom(room: Room): void {
    this.roomState = reduceRoom(this.roomState, { type: 'room', room });
    this.rings = {};
    this.view = 'room';
  }

  async leaveRoom(): Promise<void> {
    await this.run(api.leaveRoom());
    this.roomState = reduceRoom(this.roomState, { type: 'room_left', reason: 'left' });
    this.rings = {};
    this.view = 'hallway';
    void this.refreshRooms();
  }

  async endRoom(): Promise<void> {
    this.ending = true;
    const done = await this.run(api.endRoom().then(() => true));
    if (!done) this.ending = false;
  }

  async toggleMute(): Promise<void> {
    const room = this.room;
    if (!room) return;
    const muted = !room.muted;
    const done = await this.run(api.setMuted(muted).then(() => true));
    if (done) this.handle({ type: 'muted_changed', muted });
  }

  async toggleHand(): Promise<void> {
    const room = this.room;
    if (!room) return;
    const raised = room.audience.find((m) => m.userId === room.me)?.handRaised ?? false;
    const done = await this.run((raised ? api.lowerHand() : api.raiseHand()).then(() => true));
    if (done) this.handle({ type: 'hand_changed', raised: !raised });
  }

  async answerInvite(accept: boolean): Promise<void> {
    this.roomState = { ...this.roomState, invited: false };
    await this.run(accept ? api.acceptSpeakInvite() : api.declineSpeakInvite());
  }

  async setVolume(userId: string, percent: number): Promise<void> {
    this.volumes[userId] = percent;
    await this.run(api.setVolume(userId, percent));
  }

  // ---- conversations ----

  async refreshConversations(): Promise<void> {
    try {
      this.conversations = sortConversations(await api.dmList());
      this.dmsAvailable = true;
    } catch (err) {
      // A build without messages says so once, on the Messages screen, not at every start.
      if (CommandError.from(err).code === 'unavailable') this.dmsAvailable = false;
      else this.toast(errorText(err));
    }
  }

  async openConversationById(id: string): Promise<void> {
    this.openConversation = id;
    this.view = 'messages';
    const history = await this.run(api.dmHistory(id));
    if (history) this.messages[id] = sortMessages(history);
    this.conversations = markRead(this.conversations, id);
    await this.quietly(api.dmMarkRead(id));
  }

  async startConversation(handle: string): Promise<boolean> {
    const conversation = await this.run(api.dmOpen(handle));
    if (!conversation) return false;
    if (!this.conversations.some((c) => c.conversationId === conversation.conversationId)) {
      this.conversations = sortConversations([conversation, ...this.conversations]);
    }
    await this.openConversationById(conversation.conversationId);
    return true;
  }

  async send(conversationId: string, text: string): Promise<boolean> {
    const message = await this.run(api.dmSend(conversationId, text));
    if (!message) return false;
    this.messages[conversationId] = appendMessage(this.messages[conversationId] ?? [], message);
    this.conversations = applyMessage(this.conversations, message, conversationId);
    return true;
  }

  async verify(conversationId: string): Promise<boolean> {
    const done = await this.run(api.dmVerify(conversationId).then(() => true));
    if (!done) return false;
    this.conversations = this.conversations.map((c) =>
      c.conversationId === conversationId ? { ...c, verified: true } : c,
    );
    this.safetyChanged[conversationId] = false;
    return true;
  }

  // ---- settings ----

  async loadSettings(): Promise<void> {
    const [settings, devices] = await Promise.all([this.run(api.getSettings()), this.run(api.listDevices())]);
    if (settings) {
      this.settings = settings;
      this.hotkeys = settings.hotkeys;
    }
    if (devices) this.devices = devices;
  }

  /** Binds `action`; resolves to the error text when the shell refused, else `null`. */
  async bindHotkey(action: HotkeyAction, accelerator: string): Promise<string | null> {
    try {
      this.hotkeys = await api.setHotkey(action, accelerator);
      return null;
    } catch (err) {
      return errorText(err);
    }
  }

  async setDevices(input: string | null, output: string | null): Promise<void> {
    const done = await this.run(api.setDevices(input, output).then(() => true));
    if (done && this.settings) this.settings = { ...this.settings, inputDevice: input, outputDevice: output };
  }

  async setLanguage(next: Lang): Promise<void> {
    setLang(next);
    if (this.settings) this.settings = { ...this.settings, language: next };
    await this.run(api.setLanguage(next));
  }
}

const KEY = Symbol('app');

/** The store the components below use (tests give their own). */
export function provideApp(store: AppStore): AppStore {
  setContext(KEY, store);
  return store;
}

export function useApp(): AppStore {
  const store = getContext<AppStore | undefined>(KEY);
  if (!store) throw new Error('AppStore missing: wrap the component in App or pass it as context');
  return store;
}

export const APP_CONTEXT = KEY;
