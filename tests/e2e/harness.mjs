// The pieces the end-to-end test drives: the real desktop app through tauri-driver
// (which runs WebKitWebDriver), salon-cli bots, sound played into the PulseAudio null
// sink that is the app's microphone, and WAV measurements.
//
// Every wait has a deadline and polls real state; nothing sleeps as an assertion.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir, homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { remote } from 'webdriverio';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '..', '..');
export const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const targetDir = process.env.CARGO_TARGET_DIR
  ? resolve(root, process.env.CARGO_TARGET_DIR)
  : join(root, 'target');

/** The app binary (`SALON_APP_BIN`, else the debug build). */
export const appBin = process.env.SALON_APP_BIN ?? join(targetDir, 'debug', 'salon');
/** The CLI binary (`SALON_CLI_BIN`, else the debug build). */
export const cliBin = process.env.SALON_CLI_BIN ?? join(targetDir, 'debug', 'salon-cli');
/** tauri-driver (`TAURI_DRIVER`, else cargo's bin dir, else PATH). */
export const tauriDriverBin =
  process.env.TAURI_DRIVER ??
  [join(homedir(), '.cargo', 'bin', 'tauri-driver')].find(existsSync) ??
  'tauri-driver';

/** A fresh temporary directory. */
export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `salon-e2e-${prefix}-`));
}

/** A TCP port nobody listens on now. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Waits until something accepts TCP connections on `port`. */
export async function waitForPort(port, timeoutMs, what) {
  await waitFor(
    () =>
      new Promise((ok) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          ok(true);
        });
        socket.once('error', () => ok(false));
      }),
    timeoutMs,
    `${what} to listen on port ${port}`,
  );
}

/** Polls `check` every 100 ms until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A child process whose output is kept (and echoed with a prefix), stopped by pid. */
export class Child {
  constructor(name, command, args, options = {}) {
    this.name = name;
    this.output = '';
    this.proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.exited = new Promise((ok) => {
      this.proc.once('exit', (code, signal) => ok({ code, signal }));
      this.proc.once('error', (err) => {
        this.output += `spawn error: ${err.message}\n`;
        ok({ code: -1, signal: null });
      });
    });
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      stream.on('data', (chunk) => {
        const text = chunk.toString();
        this.output += text;
        if (process.env.SALON_E2E_VERBOSE) {
          for (const line of text.split('\n').filter(Boolean)) console.error(`[${name}] ${line}`);
        }
      });
    }
  }

  /** Waits for the process to end by itself. */
  async finished(timeoutMs) {
    const result = await Promise.race([
      this.exited,
      new Promise((ok) => setTimeout(() => ok(null), timeoutMs)),
    ]);
    if (!result) throw new Error(`${this.name} did not finish within ${timeoutMs} ms:\n${this.output}`);
    return result;
  }

  /** Stops it (SIGINT, then SIGKILL after 5 s) and waits for it. */
  async stop() {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.exited;
    this.proc.kill('SIGINT');
    const done = await Promise.race([this.exited, new Promise((ok) => setTimeout(() => ok(null), 5000))]);
    if (done) return done;
    this.proc.kill('SIGKILL');
    return this.exited;
  }
}

/** A salon-cli user with its own profile and key file. */
export class Bot {
  constructor(handle, serverUrl) {
    this.handle = handle;
    this.serverUrl = serverUrl;
    this.profile = tempDir(`bot-${handle}`);
  }

  args(rest) {
    return ['--server', this.serverUrl, '--profile', this.profile, '--key-store', 'file', ...rest];
  }

  /** Runs a command to completion; throws with its output when it fails. */
  run(rest) {
    return execFileSync(cliBin, this.args(rest), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Starts a long-running command. */
  start(rest) {
    return new Child(`cli:${this.handle}`, cliBin, this.args(rest));
  }
}

/** Makes a speech WAV (48 kHz mono) of about `seconds` with espeak-ng and sox. */
export function speechWav(dir, name, text, repeats = 1) {
  const raw = join(dir, `${name}-raw.wav`);
  const out = join(dir, `${name}.wav`);
  execFileSync('espeak-ng', ['-w', raw, text]);
  const effects = repeats > 1 ? ['repeat', String(repeats - 1)] : [];
  execFileSync('sox', [raw, '-r', '48000', '-c', '1', '-b', '16', out, ...effects]);
  return out;
}

/** RMS (0..1) of a 16-bit PCM WAV file's samples after skipping `skipSeconds`. */
export function wavRms(path, skipSeconds = 0) {
  const data = readFileSync(path);
  let offset = 12;
  let channels = 1;
  let rate = 48000;
  let bits = 16;
  while (offset + 8 <= data.length) {
    const id = data.toString('ascii', offset, offset + 4);
    const size = data.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      channels = data.readUInt16LE(offset + 10);
      rate = data.readUInt32LE(offset + 12);
      bits = data.readUInt16LE(offset + 22);
    } else if (id === 'data') {
      if (bits !== 16) throw new Error(`${path}: ${bits}-bit samples, expected 16`);
      const start = offset + 8 + Math.floor(skipSeconds * rate) * channels * 2;
      const end = Math.min(data.length, offset + 8 + size);
      let sum = 0;
      let n = 0;
      for (let i = start; i + 1 < end; i += 2) {
        const s = data.readInt16LE(i) / 32768;
        sum += s * s;
        n += 1;
      }
      return { rms: n ? Math.sqrt(sum / n) : 0, seconds: n / rate / channels };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

/**
 * Starts tauri-driver and opens a WebDriver session, which launches the app (a child of
 * WebKitWebDriver, itself a child of tauri-driver). `env` is added to the app's
 * environment (it inherits tauri-driver's). Returns the driver `Child`, the session and
 * the `Date.now()` at which the session was requested.
 */
export async function startApp(env = {}) {
  const driverPort = await freePort();
  const nativePort = await freePort();
  const driver = new Child(
    'tauri-driver',
    tauriDriverBin,
    ['--port', String(driverPort), '--native-port', String(nativePort)],
    { env: { ...process.env, ...env } },
  );
  await waitForPort(driverPort, 30_000, 'tauri-driver');
  const requestedAt = Date.now();
  const browser = await remote({
    hostname: '127.0.0.1',
    port: driverPort,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: appBin } },
  });
  return { driver, browser, requestedAt };
}

/** Finding the UI's elements by `data-testid`, each wait with a deadline. */
export function uiOf(browser, stepMs = 30_000) {
  const byId = (id) => browser.$(`[data-testid="${id}"]`);
  const visible = async (id, timeout = stepMs) => {
    const el = await byId(id);
    await el.waitForDisplayed({ timeout, timeoutMsg: `no visible [data-testid="${id}"] after ${timeout} ms` });
    return el;
  };
  const attr = async (id, name) => {
    const el = await byId(id);
    if (!(await el.isExisting())) return null;
    return el.getAttribute(name);
  };
  const waitAttr = (id, name, value, timeout = stepMs) =>
    waitFor(async () => (await attr(id, name)) === value, timeout, `[data-testid="${id}"] ${name}="${value}"`);
  return { byId, visible, attr, waitAttr };
}
