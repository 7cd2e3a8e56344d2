// End to end on the real desktop app: the `salon` binary under the virtual screen,
// driven through tauri-driver + WebKitWebDriver, with salon-cli bots in the same room.
//
// `cargo xtask test` builds the UI, the app and the CLI, starts Xvfb, PulseAudio (null
// sink `salon_sink`: the app's speakers, and through its monitor its microphone) and a
// D-Bus session with an unlocked keyring, and then runs this file. Each step waits on
// real UI state with a deadline; a failed step skips the ones after it (they depend on
// it). Screenshots of each main screen go to artifacts/.
//
// Steps: first-run onboarding hosting the embedded server; create a room; a bot joins,
// is invited from the audience, speaks a WAV and its speaking ring lights up; a bot
// raises its hand, appears in the queue and is invited from it; Ctrl+Shift+M (xdotool,
// a global shortcut) mutes — the app shows it and the bot's recording of the room goes
// silent — and unmutes again; a second bot and the app exchange end-to-end encrypted
// direct messages (skipped, saying so, while salon-cli has no `dm` command).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { remote } from 'webdriverio';

import {
  Bot,
  Child,
  appBin,
  artifacts,
  freePort,
  speechWav,
  tauriDriverBin,
  tempDir,
  waitFor,
  waitForPort,
  wavRms,
} from './harness.mjs';

const STEP_MS = 30_000;
const me = { handle: 'alice', name: 'Alice Martin' };

let driver;
let browser;
let hostPort;
let serverUrl;
let roomId;
let failed = false;
const children = [];
const work = tempDir('work');

/** A step that is skipped once an earlier one failed. */
function step(name, body) {
  test(name, { timeout: 180_000 }, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    try {
      await body(t);
    } catch (err) {
      failed = true;
      await shot(`failed-${name.replace(/\W+/g, '-')}`).catch(() => {});
      throw err;
    }
  });
}

const byId = (id) => browser.$(`[data-testid="${id}"]`);

async function visible(id, timeout = STEP_MS) {
  const el = await byId(id);
  await el.waitForDisplayed({ timeout, timeoutMsg: `no visible [data-testid="${id}"] after ${timeout} ms` });
  return el;
}

async function attr(id, name) {
  const el = await byId(id);
  if (!(await el.isExisting())) return null;
  return el.getAttribute(name);
}

async function waitAttr(id, name, value, timeout = STEP_MS) {
  await waitFor(async () => (await attr(id, name)) === value, timeout, `[data-testid="${id}"] ${name}="${value}"`);
}

/** Saves a screenshot once the UI had a moment to paint. */
async function shot(name) {
  await browser.pause(400);
  await browser.saveScreenshot(join(artifacts, `${name}.png`));
}

before(async () => {
  hostPort = await freePort();
  serverUrl = `ws://127.0.0.1:${hostPort}`;
  const driverPort = await freePort();
  const nativePort = await freePort();
  const dataDir = tempDir('app-data');
  driver = new Child('tauri-driver', tauriDriverBin, ['--port', String(driverPort), '--native-port', String(nativePort)], {
    // The app inherits this environment through WebKitWebDriver: a fresh data
    // directory (a first run) and the port to host on.
    env: { ...process.env, SALON_DATA_DIR: dataDir, SALON_HOST_PORT: String(hostPort), RUST_LOG: 'info' },
  });
  children.push(driver);
  await waitForPort(driverPort, 30_000, 'tauri-driver');
  browser = await remote({
    hostname: '127.0.0.1',
    port: driverPort,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: appBin } },
  });
});

after(async () => {
  if (browser) await browser.deleteSession().catch(() => {});
  for (const child of children.reverse()) await child.stop();
});

step('first run: onboarding hosts the embedded server and creates the account', async () => {
  const host = await visible('onboarding-host', 60_000);
  await shot('onboarding');
  await host.click();
  const handle = await visible('onboarding-handle');
  await handle.setValue(me.handle);
  await (await visible('onboarding-display-name')).setValue(me.name);
  await shot('onboarding-account');
  await (await visible('onboarding-submit')).click();
  await visible('hallway');
  // The embedded server really listens where the app says it hosts.
  await waitForPort(hostPort, 10_000, 'the embedded server');
  await shot('hallway');
});

step('create a room: the app enters it as host, on stage', async () => {
  await (await visible('hallway-create-title')).setValue('Friday demo');
  await (await visible('hallway-create-submit')).click();
  const room = await visible('room');
  roomId = await room.getAttribute('data-room-id');
  assert.match(roomId ?? '', /^[0-9a-f]{32}$/, `data-room-id is a room id: ${roomId}`);
  await visible(`stage-member-${me.handle}`);
  // Speak unmuted for the rest of the test.
  if ((await attr('room-mute', 'data-muted')) === 'true') await (await byId('room-mute')).click();
  await waitAttr('room-mute', 'data-muted', 'false');
  await shot('room');
});

let bob;
step('a salon-cli bot joins, is invited on stage, speaks a WAV: its speaking ring lights up', async () => {
  const bobBot = new Bot('bob', serverUrl);
  bobBot.run(['account', 'create', 'bob', '--display-name', 'Bob (bot)']);
  const wav = speechWav(work, 'bob', 'Hello everyone, this is Bob speaking from the command line.', 1);
  bob = bobBot.start(['room', 'speak', roomId, '--wav', wav, '--loop']);
  children.push(bob);
  await (await visible('audience-member-bob')).waitForDisplayed();
  await (await visible('audience-invite-bob')).click();
  await visible('stage-member-bob');
  await waitAttr('stage-member-bob', 'data-speaking', 'true', 20_000);
  await shot('room-speaking');
  await bob.stop();
  await waitFor(async () => !(await (await byId('stage-member-bob')).isExisting()), STEP_MS, 'bob to leave the stage');
});

let carol;
let player;
const loudWav = join(work, 'carol-unmuted.wav');
const quietWav = join(work, 'carol-muted.wav');
step('a bot raises its hand: it appears in the queue and the host invites it', async (t) => {
  // The app's microphone (the null sink's monitor) hears speech from now on.
  const mic = speechWav(work, 'mic', 'The quick brown fox jumps over the lazy dog, again and again.', 30);
  player = new Child('paplay', 'paplay', ['--device=salon_sink', mic]);
  children.push(player);
  const carolBot = new Bot('carol', serverUrl);
  carolBot.run(['account', 'create', 'carol', '--display-name', 'Carol (bot)']);
  carol = carolBot;
  const listen = carolBot.start(['room', 'listen', roomId, '--record', loudWav, '--seconds', '8']);
  children.push(listen);
  // erin waits in the audience with her hand up, and speaks once invited.
  const erinBot = new Bot('erin', serverUrl);
  erinBot.run(['account', 'create', 'erin', '--display-name', 'Erin (bot)']);
  const erinWav = speechWav(work, 'erin', 'Thank you for having me on stage.', 1);
  const erin = erinBot.start(['room', 'speak', roomId, '--wav', erinWav, '--loop', '--raise-hand']);
  children.push(erin);
  await visible('hand-erin');
  await shot('room-hand-queue');
  await (await visible('invite-erin')).click();
  await visible('stage-member-erin');
  await waitFor(async () => !(await (await byId('hand-erin')).isExisting()), STEP_MS, 'erin to leave the hand queue');
  await erin.stop();
  await waitFor(async () => !(await (await byId('stage-member-erin')).isExisting()), STEP_MS, 'erin to leave the stage');
  const result = await listen.finished(20_000);
  assert.equal(result.code, 0, `salon-cli room listen failed:\n${listen.output}`);
  const { rms, seconds } = wavRms(loudWav, 2);
  t.diagnostic(`carol's recording while unmuted: RMS ${rms.toFixed(5)} over ${seconds.toFixed(1)} s`);
  assert.ok(seconds > 4, `the recording is ${seconds} s long`);
  assert.ok(rms > 0.003, `carol heard the app while unmuted (RMS ${rms.toFixed(5)})`);
});

step('Ctrl+Shift+M (a global shortcut) mutes: the app shows it and the room goes silent; again unmutes', async (t) => {
  execFileSync('xdotool', ['key', 'ctrl+shift+m']);
  await waitAttr('room-mute', 'data-muted', 'true', 10_000);
  await shot('room-muted');
  const listen = carol.start(['room', 'listen', roomId, '--record', quietWav, '--seconds', '6']);
  children.push(listen);
  const result = await listen.finished(20_000);
  assert.equal(result.code, 0, `salon-cli room listen failed:\n${listen.output}`);
  const loud = wavRms(loudWav, 2).rms;
  const quiet = wavRms(quietWav, 1).rms;
  t.diagnostic(`carol's recording while muted: RMS ${quiet.toFixed(5)} (unmuted ${loud.toFixed(5)})`);
  assert.ok(quiet < loud / 10, `muted recording RMS ${quiet.toFixed(5)} vs unmuted ${loud.toFixed(5)}`);
  execFileSync('xdotool', ['key', 'ctrl+shift+m']);
  await waitAttr('room-mute', 'data-muted', 'false', 10_000);
  await player.stop();
});

step('a direct message from a second salon-cli user arrives, and the reply reaches them', async (t) => {
  const dave = new Bot('dave', serverUrl);
  try {
    dave.run(['dm', '--help']);
  } catch {
    t.skip('this salon-cli has no `dm` command yet');
    return;
  }
  dave.run(['account', 'create', 'dave', '--display-name', 'Dave (bot)']);
  const hello = 'Hi Alice, Dave here. Shall we talk after the room?';
  dave.run(['dm', 'send', me.handle, hello]);
  await (await visible('nav-dms')).click();
  await (await visible('dm-conversation-dave')).click();
  await waitFor(
    async () => {
      for (const el of await browser.$$('[data-testid="dm-message"]')) {
        if ((await el.getText()).includes(hello)) return true;
      }
      return false;
    },
    STEP_MS,
    "Dave's message in the conversation",
  );
  const reply = 'Yes! See you in the hallway.';
  await (await visible('dm-input')).setValue(reply);
  await (await visible('dm-send')).click();
  await waitFor(
    async () => {
      for (const el of await browser.$$('[data-testid="dm-message"][data-mine="true"]')) {
        if ((await el.getText()).includes(reply)) return true;
      }
      return false;
    },
    STEP_MS,
    'the reply in the conversation',
  );
  await shot('conversation');
  const read = dave.run(['dm', 'read', me.handle, '--wait-seconds', '20']);
  t.diagnostic(`dave read: ${read.trim()}`);
  assert.ok(read.includes(reply), `dave received the reply:\n${read}`);
});

step('the hallway lists the room the app hosts', async () => {
  await (await visible('nav-hallway')).click();
  await visible('hallway');
  await visible(`hallway-room-${roomId}`);
  await shot('hallway-rooms');
});
