// The connection banner: hidden when connected, counting down to the next try otherwise,
// and the sounds for losing and regaining the server.
import { describe, expect, it } from 'vitest';
import { bannerAt, transitionSound } from '../src/lib/connection';
import type { Connection } from '../src/lib/types';

const report = (extra: Partial<Connection>): Connection => ({
  state: 'reconnecting',
  attempt: 2,
  nextInMs: 5000,
  reason: null,
  ...extra,
});

describe('bannerAt', () => {
  it('shows nothing while connected or before any report', () => {
    expect(bannerAt(null, 0)).toBeNull();
    expect(bannerAt({ report: report({ state: 'connected' }), receivedAt: 0 }, 0)).toBeNull();
  });

  it('counts down whole seconds from when the report arrived', () => {
    const status = { report: report({}), receivedAt: 1000 };
    expect(bannerAt(status, 1000)?.secondsLeft).toBe(5);
    expect(bannerAt(status, 1001)?.secondsLeft).toBe(5);
    expect(bannerAt(status, 2000)?.secondsLeft).toBe(4);
    expect(bannerAt(status, 5999)?.secondsLeft).toBe(1);
    expect(bannerAt(status, 6000)?.secondsLeft).toBe(0);
    expect(bannerAt(status, 60_000)?.secondsLeft).toBe(0);
  });

  it('carries the kind, attempt and reason, and no countdown without a next try', () => {
    const banner = bannerAt({ report: report({ state: 'offline', nextInMs: null, attempt: null, reason: 'no network' }), receivedAt: 0 }, 0);
    expect(banner).toEqual({ kind: 'offline', secondsLeft: null, attempt: null, reason: 'no network' });
  });
});

describe('transitionSound', () => {
  it('plays one cue on losing and one on regaining the connection', () => {
    expect(transitionSound('connected', 'reconnecting')).toBe('disconnected');
    expect(transitionSound('connected', 'offline')).toBe('disconnected');
    expect(transitionSound('reconnecting', 'connected')).toBe('reconnected');
    expect(transitionSound('offline', 'connected')).toBe('reconnected');
  });

  it('stays quiet for the first connection and for retries while down', () => {
    expect(transitionSound(null, 'connected')).toBeNull();
    expect(transitionSound('connecting', 'connected')).toBeNull();
    expect(transitionSound('reconnecting', 'reconnecting')).toBeNull();
    expect(transitionSound('reconnecting', 'offline')).toBeNull();
  });
});
