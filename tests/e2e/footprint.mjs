// The desktop app's footprint, a benchmark (never a test): the real `salon` binary under
// the virtual screen, sitting for N seconds in a room where three salon-cli bots speak.
//
//   node footprint.mjs [--seconds 60] [--mic muted|on] [--idle-seconds 0] [--json]
//
// `cargo xtask bench` builds the release app, CLI and server, starts the test services
// (Xvfb, PulseAudio null sink, D-Bus keyring) and runs this with `SALON_APP_BIN`,
// `SALON_CLI_BIN`, `SALON_SERVER_BIN` and `TAURI_DRIVER` set (unset, the release builds
// in cargo's target directory). The room lives on a separate `salon-server` process, so
// the app's figures hold no server.
//
// Measured:
// - cold start: from the app process' start (its start time in /proc, 10 ms ticks) until
//   the first screen's first control (onboarding's "host on this computer") is
//   displayed and clickable, polled every 25 ms over WebDriver; a first run (fresh data
//   directory), files already in the page cache. Also from the WebDriver session request
//   (which adds WebKitWebDriver launching the app).
// - then onboarding against the server, a room created, three bots that raise their hand
//   speaking looped speech, invited on stage from the hand queue; each one's speaking
//   ring must light up in the app before measuring. The app's microphone is muted (a
//   listener) unless `--mic on`; it is the null sink's monitor, so an open microphone
//   hears the room and sends it back.
// - then N seconds without touching the UI: CPU = user + system ticks (/proc/PID/stat) of
//   the app and all its descendants (WebKit's web and network processes, ...), not of
//   tauri-driver, WebKitWebDriver, Xvfb, the bots or the server, as % of one core;
//   memory every 250 ms: the sum of VmRSS over those processes (peak reported) and of PSS
//   (/proc/PID/smaps_rollup: shared library pages divided among the processes sharing
//   them), with each process' share at the peak. `--idle-seconds N` first measures the
//   room with nobody speaking, for comparison.
//
// The summary is printed for people; with --json the last line is one JSON object.

import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

// Release builds unless told otherwise (the harness defaults to debug builds, for tests).
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const release = join(process.env.CARGO_TARGET_DIR ? resolve(root, process.env.CARGO_TARGET_DIR) : join(root, 'target'), 'release');
process.env.SALON_APP_BIN ??= join(release, 'salon');
process.env.SALON_CLI_BIN ??= join(release, 'salon-cli');
const serverBin = process.env.SALON_SERVER_BIN ?? join(release, 'salon-server');
const { Bot, Child, appBin, cliBin, freePort, startApp, tempDir, uiOf, waitFor, waitForPort } = await import('./harness.mjs');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const seconds = Number(option('--seconds', '60'));
const idleSeconds = Number(option('--idle-seconds', '0'));
const mic = option('--mic', 'muted');
const json = args.includes('--json');
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, not ${option('--seconds')}`);
if (!['muted', 'on'].includes(mic)) throw new Error(`--mic is muted or on, not ${mic}`);

const SAMPLE_MS = 250;
const SPEAKERS = ['amir', 'bella', 'chen'];
const speech = join(root, 'crates', 'voice', 'tests', 'fixtures', 'speech-48k-mono.wav');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const log = (line) => console.log(`footprint: ${line}`);

// ---- /proc ----

/** pid, name, parent, CPU ticks and start time of a process, or null once it is gone. */
function stat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = text.lastIndexOf(')');
  const name = text.slice(text.indexOf('(') + 1, close);
  // Fields from the 3rd (state) on; field n is at n - 3.
  const f = text.slice(close + 2).split(' ');
  return { pid, name, ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), startTicks: Number(f[19]) };
}

/** Every process now, by pid. */
function allProcesses() {
  const all = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s) all.set(s.pid, s);
  }
  return all;
}

/** `pid` and its descendants, from the parent links in /proc. */
function tree(pid, all = allProcesses()) {
  const found = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift();
    const s = all.get(p);
    if (!s) continue;
    found.push(s);
    for (const child of all.values()) if (child.ppid === p) queue.push(child.pid);
  }
  return found;
}

/** kB fields of /proc/PID/status and smaps_rollup (0 when the process is gone). */
function memory(pid) {
  const fields = (file, names) => {
    const out = Object.fromEntries(names.map((n) => [n, 0]));
    try {
      for (const line of readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\n')) {
        const m = /^(\w+):\s+(\d+) kB/.exec(line);
        if (m && m[1] in out) out[m[1]] = Number(m[2]);
      }
    } catch {
      // gone
    }
    return out;
  };
  return {
    ...fields('status', ['VmRSS', 'RssAnon', 'RssFile', 'RssShmem', 'VmHWM']),
    ...fields('smaps_rollup', ['Pss', 'Pss_Anon', 'Pss_File', 'Pss_Shmem']),
  };
}

/** Nanoseconds the process' threads spent waiting for a CPU (the schedstat of each of its tasks). */
function cpuWaitNs(pid) {
  let total = 0;
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const [, wait] = readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ');
      total += Number(wait);
    }
  } catch {
    // gone
  }
  return total;
}

/** A variable of a process' environment as it was started, or null. */
function environ(pid, name) {
  try {
    const entry = readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .find((e) => e.startsWith(`${name}=`));
    return entry ? entry.slice(name.length + 1) : null;
  } catch {
    return null;
  }
}

/** Seconds since boot, on the clock /proc's start times use (10 ms resolution). */
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const mb = (kb) => Math.round((kb / 1024) * 10) / 10;

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const os = /PRETTY_NAME="(.*)"/.exec(existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '')?.[1];
  return {
    cpu,
    cores: cpus().length,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    os: os ?? 'unknown',
    date: new Date().toISOString().slice(0, 10),
  };
}

// ---- the run ----

const children = [];
let browser;

async function run() {
  for (const [what, path] of [
    ['app', appBin],
    ['salon-cli', cliBin],
    ['salon-server', serverBin],
    ['speech fixture', speech],
  ]) {
    if (!existsSync(path)) throw new Error(`no ${what} at ${path}`);
  }
  log(`app ${appBin}`);
  log(`load average before: ${loadAverage().join(' ')}`);

  // The server, a process of its own.
  const port = await freePort();
  const serverUrl = `ws://127.0.0.1:${port}`;
  const server = new Child('salon-server', serverBin, [
    '--listen',
    `127.0.0.1:${port}`,
    '--data-dir',
    tempDir('footprint-server'),
  ]);
  children.push(server);
  await waitForPort(port, 30_000, 'salon-server');

  // Cold start.
  const started = await startApp({ SALON_DATA_DIR: tempDir('footprint-app') });
  ({ browser } = started);
  children.push(started.driver);
  const ui = uiOf(browser);
  const first = await ui.byId('onboarding-host');
  await first.waitForClickable({ timeout: 60_000, interval: 25 });
  const readyUptime = uptime();
  const readyAt = Date.now();
  const app = tree(started.driver.proc.pid).find((p) => p.name === 'salon');
  if (!app) throw new Error('the app process (salon) is not among tauri-driver\'s descendants');
  const coldStartMs = Math.round((readyUptime - app.startTicks / CLK_TCK) * 1000);
  const sessionMs = readyAt - started.requestedAt;
  log(`app pid ${app.pid}: first control usable ${coldStartMs} ms after the process started (${sessionMs} ms after the session request)`);

  // Onboarding against the server, and a room.
  await (await ui.visible('onboarding-use-server')).click();
  await (await ui.visible('onboarding-server-url')).setValue(serverUrl);
  await (await ui.visible('onboarding-handle')).setValue('host');
  await (await ui.visible('onboarding-display-name')).setValue('Footprint Host');
  await (await ui.visible('onboarding-submit')).click();
  await ui.visible('hallway');
  await (await ui.visible('hallway-create-title')).setValue('Footprint');
  await (await ui.visible('hallway-create-submit')).click();
  const roomId = await (await ui.visible('room')).getAttribute('data-room-id');
  log(`room ${roomId} on ${serverUrl}`);

  const wanted = mic === 'muted' ? 'true' : 'false';
  if ((await ui.attr('room-mute', 'data-muted')) !== wanted) await (await ui.byId('room-mute')).click();
  await ui.waitAttr('room-mute', 'data-muted', wanted);

  // Optionally the room with nobody speaking first: what the speakers add.
  let idle = null;
  if (idleSeconds > 0) {
    idle = await measure(app.pid, idleSeconds);
    print(`footprint: ${idle.seconds} s in the room alone (microphone ${mic})`, idle);
  }

  // Three speakers, invited from the hand queue; each one heard.
  const bots = [];
  for (const handle of SPEAKERS) {
    const bot = new Bot(handle, serverUrl);
    bot.run(['account', 'create', handle, '--display-name', `${handle} (bot)`]);
    const speaking = bot.start(['room', 'speak', roomId, '--wav', speech, '--loop', '--raise-hand']);
    children.push(speaking);
    bots.push(speaking);
    await (await ui.visible(`invite-${handle}`)).click();
    await ui.visible(`stage-member-${handle}`);
  }
  for (const handle of SPEAKERS) await ui.waitAttr(`stage-member-${handle}`, 'data-speaking', 'true', 20_000);
  log(`${SPEAKERS.length} speakers on stage, each heard (speaking ring lit); the app's microphone is ${mic}`);

  const room = await measure(app.pid, seconds);

  // Still a live room: every bot still speaking, and the app still shows someone speaking.
  for (const [i, bot] of bots.entries()) {
    if (bot.proc.exitCode !== null) throw new Error(`${SPEAKERS[i]} stopped during the window:\n${bot.output}`);
  }
  await waitFor(
    async () => {
      for (const handle of SPEAKERS) if ((await ui.attr(`stage-member-${handle}`, 'data-speaking')) === 'true') return true;
      return false;
    },
    10_000,
    'a speaking ring after the window',
  );

  print(`footprint: ${room.seconds} s in a room with ${SPEAKERS.length} speakers (microphone ${mic})`, room);
  console.log(`  cold start: ${coldStartMs} ms (process start → first control usable); ${sessionMs} ms from the session request`);
  if (json) {
    const { processes, ...totals } = room;
    console.log(
      JSON.stringify({
        bench: 'footprint',
        machine: machine(),
        app: appBin,
        speakers: SPEAKERS.length,
        microphone: mic,
        ...totals,
        processes,
        cold_start_ms: coldStartMs,
        session_to_ready_ms: sessionMs,
        ...(idle ? { idle } : {}),
      }),
    );
  }
}

/**
 * `seconds` of the app's processes left alone: CPU over the window and memory every
 * SAMPLE_MS. No WebDriver request is made meanwhile.
 */
async function measure(appPid, seconds) {
  const loadBefore = loadAverage();
  const begin = new Map(tree(appPid).map((p) => [p.pid, { ...p, waitNs: cpuWaitNs(p.pid) }]));
  const last = new Map();
  let peak = { rss: 0, pss: 0, each: [] };
  let peakPss = 0;
  let samples = 0;
  const t0 = uptime();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    let rss = 0;
    let pss = 0;
    const each = [];
    for (const p of tree(appPid)) {
      const m = memory(p.pid);
      last.set(p.pid, { ...p, waitNs: cpuWaitNs(p.pid) });
      rss += m.VmRSS;
      pss += m.Pss;
      each.push({ pid: p.pid, ...m });
    }
    samples += 1;
    if (rss > peak.rss) peak = { rss, pss, each };
    peakPss = Math.max(peakPss, pss);
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
  }
  const wall = uptime() - t0;

  // CPU: ticks over the window, per process (one born meanwhile counts from 0, one gone
  // meanwhile up to its last sample).
  const percent = (ticks) => Math.round((ticks / CLK_TCK / wall) * 1000) / 10;
  const processes = [...last.values()].map((p) => {
    const b = begin.get(p.pid) ?? { ticks: 0, waitNs: 0 };
    const m = peak.each.find((e) => e.pid === p.pid) ?? {};
    return {
      pid: p.pid,
      name: p.name,
      cpu_percent_of_one_core: percent(p.ticks - b.ticks),
      // (threads that ended meanwhile take their waits with them: never below 0)
      cpu_wait_s: Math.max(0, Math.round(((p.waitNs - b.waitNs) / 1e9) * 10) / 10),
      rss_mb_at_peak: mb(m.VmRSS ?? 0),
      pss_mb_at_peak: mb(m.Pss ?? 0),
      rss_anon_mb: mb(m.RssAnon ?? 0),
      rss_file_mb: mb(m.RssFile ?? 0),
      rss_shmem_mb: mb(m.RssShmem ?? 0),
      own_peak_rss_mb: mb(m.VmHWM ?? 0),
    };
  });
  // Whether WebKit composited with OpenGL (on unless WEBKIT_DISABLE_COMPOSITING_MODE is
  // set and not 0): the web process' environment tells.
  const web = [...last.values()].find((p) => p.name.startsWith('WebKitWebProces'));
  const disable = web ? environ(web.pid, 'WEBKIT_DISABLE_COMPOSITING_MODE') : null;
  return {
    seconds: Math.round(wall * 10) / 10,
    samples,
    webkit_compositing: disable !== null && disable !== '0' ? 'off' : 'on',
    cpu_percent_of_one_core: percent([...last.values()].reduce((sum, p) => sum + p.ticks - (begin.get(p.pid)?.ticks ?? 0), 0)),
    peak_rss_mb: mb(peak.rss),
    pss_mb_at_peak_rss: mb(peak.pss),
    peak_pss_mb: mb(peakPss),
    load_average_before: loadBefore,
    load_average_after: loadAverage(),
    processes,
  };
}

/** The human summary of one window. */
function print(title, m) {
  console.log('');
  console.log(title);
  console.log(`  ${m.samples} samples; WebKit's OpenGL compositing ${m.webkit_compositing}`);
  console.log(`  CPU, all the app's processes: ${m.cpu_percent_of_one_core} % of one core`);
  console.log(`  peak RSS (sum): ${m.peak_rss_mb} MB; PSS then ${m.pss_mb_at_peak_rss} MB; peak PSS ${m.peak_pss_mb} MB`);
  for (const p of m.processes) {
    console.log(
      `    ${p.name.padEnd(16)} pid ${String(p.pid).padEnd(7)} CPU ${String(p.cpu_percent_of_one_core).padStart(5)} %` +
        `  RSS ${p.rss_mb_at_peak} MB (anon ${p.rss_anon_mb}, file ${p.rss_file_mb}, shmem ${p.rss_shmem_mb})` +
        `  PSS ${p.pss_mb_at_peak} MB  own peak ${p.own_peak_rss_mb} MB  waited for CPU ${p.cpu_wait_s} s`,
    );
  }
  console.log(`  load average: ${m.load_average_before.join(' ')} before, ${m.load_average_after.join(' ')} after`);
}

try {
  await run();
} finally {
  if (browser) await browser.deleteSession().catch(() => {});
  for (const child of children.reverse()) await child.stop();
}
