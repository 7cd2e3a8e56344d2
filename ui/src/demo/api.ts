/**
 * A stand-in backend for looking at the screens in a plain browser (`npm run demo`).
 *
 * Selected only by Vite's `demo` mode (see vite.config.ts); the production build never
 * contains it. It keeps a small world in memory (rooms, people, conversations), answers
 * every command of the contract, and plays events: live levels while in a room, a
 * connection drop on request. `?screen=` in the address picks where to start, for
 * screenshots: onboarding, hallway, room, room-listener, invite, messages, safety,
 * settings, offline.
 */
import type { Api } from '../lib/api';
import type {
  Account,
  AppState,
  Conversation,
  Devices,
  DmMessage,
  Hotkey,
  Member,
  Person,
  Room,
  RoomSummary,
  Settings,
  UiEvent,
} from '../lib/types';
import { CommandError } from '../lib/errors';

const params = new URLSearchParams(globalThis.location?.search ?? '');
const screen = params.get('screen') ?? 'hallway';

const listeners = new Set<(event: UiEvent) => void>();
function emit(event: UiEvent): void {
  for (const listener of listeners) listener(event);
}
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const me: Account = { userId: 'u-ada', handle: 'ada', displayName: 'Ada Lovelace' };
const people: Record<string, Person> = Object.fromEntries(
  [
    ['grace', 'Grace Hopper'],
    ['alan', 'Alan Turing'],
    ['margaret', 'Margaret Hamilton'],
    ['edsger', 'Edsger Dijkstra'],
    ['barbara', 'Barbara Liskov'],
    ['ken', 'Ken Thompson'],
    ['radia', 'Radia Perlman'],
    ['linus', 'Linus T.'],
    ['frances', 'Frances Allen'],
    ['donald', 'Donald Knuth'],
    ['hedy', 'Hedy Lamarr'],
    ['john', 'John McCarthy'],
  ].map(([handle, displayName]) => [handle, { userId: `u-${handle}`, handle, displayName }]),
);

const hotkeys: Hotkey[] = [
  { action: 'toggle_mute', accelerator: 'Ctrl+Shift+M', registered: true, error: null },
  { action: 'toggle_hand', accelerator: 'Ctrl+Shift+H', registered: true, error: null },
  { action: 'push_to_talk', accelerator: 'F9', registered: true, error: null },
];

const settings: Settings = {
  hotkeys,
  inputDevice: null,
  outputDevice: null,
  language: (params.get('lang') as 'en' | 'fr' | null) ?? null,
  globalShortcutsAvailable: params.get('wayland') === null,
  globalShortcutsNote: params.get('wayland') === null ? null : 'Wayland does not let applications grab keys.',
};

const devices: Devices = {
  inputs: [
    { id: 'pulse:default', name: 'Built-in Microphone', isDefault: true },
    { id: 'pulse:usb', name: 'USB Headset Microphone', isDefault: false },
  ],
  outputs: [
    { id: 'pulse:speakers', name: 'Built-in Speakers', isDefault: true },
    { id: 'pulse:usb-out', name: 'USB Headset', isDefault: false },
  ],
};

function member(handle: string, role: Member['role'], extra: Partial<Member> = {}): Member {
  const person = handle === 'ada' ? me : people[handle];
  return { ...person, role, muted: role === 'listener', moderatorMuted: false, handRaised: false, volume: 100, ...extra };
}

const summaries: RoomSummary[] = [
  { roomId: 'r-compilers', title: 'Compilers, bugs and the first debugger', speakers: ['Grace Hopper', 'Frances Allen', 'John McCarthy'], listenerCount: 48 },
  { roomId: 'r-apollo', title: 'Software that flew to the Moon', speakers: ['Margaret Hamilton'], listenerCount: 132 },
  { roomId: 'r-structured', title: 'Goto considered harmful: fifty years on', speakers: ['Edsger Dijkstra', 'Donald Knuth', 'Barbara Liskov', 'Ken Thompson'], listenerCount: 1 },
  { roomId: 'r-networks', title: 'Spanning trees over coffee', speakers: ['Radia Perlman', 'Hedy Lamarr'], listenerCount: 17 },
];

let room: Room | null = null;
let invited = false;
let connected = true;

function makeRoom(listener: boolean): Room {
  const stage = [
    member(listener ? 'grace' : 'ada', 'host', { muted: false }),
    member('alan', 'moderator', { muted: false }),
    member('margaret', 'speaker', { muted: true }),
    member(listener ? 'edsger' : 'edsger', 'speaker', { muted: false, moderatorMuted: false }),
  ];
  const audience = [
    member('barbara', 'listener', { handRaised: true }),
    member('ken', 'listener'),
    member('radia', 'listener', { handRaised: true }),
    member('linus', 'listener'),
    member('frances', 'listener'),
    member('donald', 'listener', { handRaised: true }),
    member('hedy', 'listener'),
  ];
  if (listener) audience.splice(2, 0, member('ada', 'listener'));
  return {
    roomId: 'r-compilers',
    title: 'Compilers, bugs and the first debugger',
    visibility: 'public',
    me: me.userId,
    myRole: listener ? 'listener' : 'host',
    stage,
    audience,
    hands: ['u-radia', 'u-barbara', 'u-donald'],
    invitedToSpeak: false,
    muted: false,
  };
}

const conversations: Conversation[] = [
  { conversationId: 'c-grace', peers: [people.grace], unread: 2, lastText: 'See you in the room at nine?', lastAt: Date.now() - 4 * 60_000, verified: true },
  { conversationId: 'c-alan', peers: [people.alan], unread: 0, lastText: 'The machine halts. Eventually.', lastAt: Date.now() - 3 * 3600_000, verified: false },
  { conversationId: 'c-margaret', peers: [people.margaret], unread: 5, lastText: 'Priority displays saved the landing', lastAt: Date.now() - 26 * 3600_000, verified: false },
  { conversationId: 'c-edsger', peers: [people.edsger], unread: 0, lastText: null, lastAt: null, verified: false },
];

const history: Record<string, DmMessage[]> = {};
let nextMessage = 1;
function msg(conversationId: string, from: Person | null, text: string, minutesAgo: number): DmMessage {
  return {
    messageId: `m-${nextMessage++}`,
    conversationId,
    sender: from ?? me,
    text,
    sentAt: Date.now() - minutesAgo * 60_000,
    mine: from === null,
    notice: false,
  };
}
history['c-grace'] = [
  msg('c-grace', people.grace, 'Morning! Did you get the notes from yesterday?', 62),
  msg('c-grace', null, 'I did, thank you. The part about the moth made me laugh.', 58),
  msg('c-grace', null, 'Are you hosting again today?', 57),
  msg('c-grace', people.grace, 'Yes, same time. Bring questions.', 5),
  msg('c-grace', people.grace, 'See you in the room at nine?', 4),
];
history['c-alan'] = [
  msg('c-alan', null, 'Does it halt?', 200),
  msg('c-alan', people.alan, 'The machine halts. Eventually.', 180),
];
history['c-margaret'] = [msg('c-margaret', people.margaret, 'Priority displays saved the landing', 1560)];
history['c-edsger'] = [];

function requireRoom(): Room {
  if (!room) throw new CommandError('not_in_room', 'You are not in a room.');
  return room;
}

// Each event carries a copy, as the real shell's JSON does.
function push(): void {
  if (room) emit({ type: 'room', room: structuredClone(room) });
}

function findMember(userId: string): Member | undefined {
  const r = requireRoom();
  return [...r.stage, ...r.audience].find((m) => m.userId === userId);
}

let levelTimer: ReturnType<typeof setInterval> | undefined;
function startLevels(): void {
  clearInterval(levelTimer);
  let tick = 0;
  levelTimer = setInterval(() => {
    if (!room) return;
    tick++;
    const talkers = room.stage.filter((m) => !m.muted && !m.moderatorMuted);
    // One main speaker at a time, a second one joining now and then.
    const main = talkers[Math.floor(tick / 30) % Math.max(1, talkers.length)];
    const levels = talkers.map((m) => {
      const speaking = m === main || (tick % 47 < 8 && m === talkers[(talkers.indexOf(main) + 1) % talkers.length]);
      const level = speaking ? 0.25 + 0.7 * Math.abs(Math.sin(tick / 2.3 + m.handle.length)) : 0.02;
      return { userId: m.userId, level, speaking };
    });
    emit({ type: 'levels', levels });
  }, 100);
}

function enter(listener: boolean): Room {
  room = makeRoom(listener);
  startLevels();
  return room;
}

export const api: Api = {
  async appState(): Promise<AppState> {
    await wait(80);
    const onboarding = screen === 'onboarding';
    if (['room', 'menu', 'invite', 'room-listener'].includes(screen)) enter(screen === 'invite' || screen === 'room-listener');
    if (screen === 'invite') setTimeout(() => emit({ type: 'speak_invite' }), 300);
    if (screen === 'offline') {
      connected = false;
      setTimeout(() => emit({ type: 'connection', connection: { state: 'reconnecting', attempt: 3, nextInMs: 8000, reason: null } }), 150);
    }
    tour();
    return {
      needsOnboarding: onboarding,
      serverUrl: null,
      hosting: onboarding ? null : { port: 7300, urls: ['ws://127.0.0.1:7300', 'ws://192.168.1.20:7300'] },
      account: onboarding ? null : me,
      connection: { state: 'connected', attempt: null, nextInMs: null, reason: null },
      settings,
      room: room ? structuredClone(room) : null,
    };
  },
  async hostLocally(port?: number) {
    await wait(400);
    return { port: port ?? 7300, urls: ['ws://127.0.0.1:7300'] };
  },
  async useServer(url: string) {
    await wait(400);
    if (url.includes('down')) throw new CommandError('not_connected', `Could not reach ${url}.`);
  },
  async createAccount(handle: string, displayName: string) {
    await wait(300);
    if (handle === 'taken') throw new CommandError('handle_taken', 'That handle is taken.');
    Object.assign(me, { handle, displayName });
    return me;
  },

  async listRooms() {
    await wait(120);
    return connected ? summaries : [];
  },
  async createRoom(title, visibility) {
    await wait(200);
    room = { ...enter(false), title, visibility, roomId: 'r-new', audience: [], hands: [], stage: [member('ada', 'host', { muted: false })] };
    return room;
  },
  async joinRoom(roomId: string) {
    await wait(200);
    const r = enter(true);
    r.roomId = roomId;
    r.title = summaries.find((s) => s.roomId === roomId)?.title ?? r.title;
    return r;
  },
  async leaveRoom() {
    clearInterval(levelTimer);
    room = null;
  },
  async endRoom() {
    clearInterval(levelTimer);
    room = null;
    emit({ type: 'room_left', reason: 'ended' });
  },
  async setMuted(muted: boolean) {
    const r = requireRoom();
    r.muted = muted;
    const m = findMember(r.me);
    if (m) m.muted = muted;
  },
  async raiseHand() {
    const r = requireRoom();
    if (!r.hands.includes(r.me)) r.hands.push(r.me);
    const m = findMember(r.me);
    if (m) m.handRaised = true;
    if (screen === 'room-listener') setTimeout(() => emit({ type: 'speak_invite' }), 2500);
  },
  async lowerHand() {
    const r = requireRoom();
    r.hands = r.hands.filter((id) => id !== r.me);
    const m = findMember(r.me);
    if (m) m.handRaised = false;
  },
  async acceptSpeakInvite() {
    const r = requireRoom();
    const m = r.audience.find((x) => x.userId === r.me);
    if (m) {
      r.audience = r.audience.filter((x) => x !== m);
      r.hands = r.hands.filter((id) => id !== m.userId);
      r.stage.push({ ...m, role: 'speaker', handRaised: false, muted: true });
      r.myRole = 'speaker';
      r.muted = true;
    }
    push();
  },
  async declineSpeakInvite() {},
  async inviteToSpeak(userId: string) {
    const r = requireRoom();
    const m = r.audience.find((x) => x.userId === userId);
    if (!m) return;
    // Accepted a moment later, as a real person would.
    setTimeout(() => {
      if (!room) return;
      room.audience = room.audience.filter((x) => x.userId !== userId);
      room.hands = room.hands.filter((id) => id !== userId);
      room.stage.push({ ...m, role: 'speaker', handRaised: false, muted: false });
      push();
    }, 700);
  },
  async moveToAudience(userId: string) {
    const r = requireRoom();
    const m = r.stage.find((x) => x.userId === userId);
    if (!m) return;
    r.stage = r.stage.filter((x) => x !== m);
    r.audience.unshift({ ...m, role: 'listener', muted: true });
    push();
  },
  async setRole(userId, role) {
    const m = findMember(userId);
    if (m) m.role = role;
    push();
  },
  async moderatorMute(userId: string) {
    const m = findMember(userId);
    if (m) m.moderatorMuted = true;
    push();
  },
  async moderatorUnmute(userId: string) {
    const m = findMember(userId);
    if (m) m.moderatorMuted = false;
    push();
  },
  async removeMember(userId: string) {
    const r = requireRoom();
    r.stage = r.stage.filter((x) => x.userId !== userId);
    r.audience = r.audience.filter((x) => x.userId !== userId);
    r.hands = r.hands.filter((id) => id !== userId);
    push();
  },
  async banMember(userId: string) {
    await api.removeMember(userId);
  },
  async setVolume(userId: string, percent: number) {
    const m = findMember(userId);
    if (m) m.volume = percent;
  },

  async getSettings() {
    return settings;
  },
  async setHotkey(action, accelerator) {
    await wait(100);
    if (accelerator === 'Ctrl+Alt+T') throw new CommandError('hotkey_conflict', 'Another program already uses Ctrl+Alt+T.');
    const hk = hotkeys.find((h) => h.action === action);
    if (hk) Object.assign(hk, { accelerator, registered: settings.globalShortcutsAvailable, error: null });
    return structuredClone(hotkeys);
  },
  async listDevices() {
    return devices;
  },
  async setDevices(input, output) {
    settings.inputDevice = input;
    settings.outputDevice = output;
  },
  async setLanguage(lang) {
    settings.language = lang;
  },

  async dmList() {
    await wait(60);
    return structuredClone(conversations);
  },
  async dmOpen(handle: string) {
    await wait(200);
    const person = people[handle];
    if (!person) throw new CommandError('user_not_found', `Nobody has the handle ${handle}.`);
    let c = conversations.find((x) => x.peers[0].handle === handle);
    if (!c) {
      c = { conversationId: `c-${handle}`, peers: [person], unread: 0, lastText: null, lastAt: null, verified: false };
      conversations.unshift(c);
      history[c.conversationId] = [];
    }
    return structuredClone(c);
  },
  async dmHistory(conversationId: string) {
    await wait(60);
    if (screen === 'safety' && conversationId === 'c-grace') {
      setTimeout(() => emit({ type: 'safety_number_changed', conversationId }), 200);
    }
    return structuredClone(history[conversationId] ?? []);
  },
  async dmSend(conversationId: string, text: string) {
    const message = msg(conversationId, null, text, 0);
    (history[conversationId] ??= []).push(message);
    const c = conversations.find((x) => x.conversationId === conversationId);
    // A reply a little later, so the unread count and the live update can be seen.
    if (c) {
      setTimeout(() => {
        const reply = msg(conversationId, c.peers[0], 'Noted!', 0);
        history[conversationId].push(reply);
        emit({ type: 'dm_message', message: reply });
      }, 1500);
    }
    return message;
  },
  async dmMarkRead(conversationId: string) {
    const c = conversations.find((x) => x.conversationId === conversationId);
    if (c) c.unread = 0;
  },
  async dmSafetyNumber(conversationId: string) {
    await wait(100);
    const c = conversations.find((x) => x.conversationId === conversationId);
    return {
      digits: '05218 73940 11862 40937 88120 63015 29471 70384 15526 90813 34670 58219',
      qrPayload: 'demo',
      verified: screen === 'safety' ? false : (c?.verified ?? false),
    };
  },
  async dmVerify(conversationId: string) {
    const c = conversations.find((x) => x.conversationId === conversationId);
    if (c) c.verified = true;
  },
};

// Screens behind a click: the demo clicks through like a person would.
function click(testid: string, after: number): Promise<void> {
  return new Promise((resolve) =>
    setTimeout(() => {
      document.querySelector<HTMLElement>(`[data-testid="${testid}"]`)?.click();
      resolve();
    }, after),
  );
}

async function tour(): Promise<void> {
  if (['messages', 'safety'].includes(screen)) {
    await click('nav-dms', 300);
    await click('dm-conversation-grace', 200);
    if (screen === 'safety') await click('dm-safety-number', 400);
  }
  if (screen === 'settings') await click('nav-settings', 300);
  if (screen === 'menu') await click('person-button', 400);
}

export async function onEvent(handler: (event: UiEvent) => void): Promise<() => void> {
  listeners.add(handler);
  return () => listeners.delete(handler);
}

// Anything the window's CSP blocks after start-up, for `salonDemo.violations` (read by
// the screenshot scripts through WebDriver).
const violations: string[] = [];
globalThis.document?.addEventListener('securitypolicyviolation', (e) => {
  violations.push(`${e.violatedDirective} ${e.blockedURI}`);
});

// From the browser console: `salonDemo.drop()` plays a connection loss and recovery.
Object.assign(globalThis, {
  salonDemo: {
    emit,
    violations,
    drop() {
      emit({ type: 'connection', connection: { state: 'reconnecting', attempt: 1, nextInMs: 3000, reason: null } });
      setTimeout(() => emit({ type: 'connection', connection: { state: 'connected', attempt: null, nextInMs: null, reason: null } }), 3200);
    },
  },
});
