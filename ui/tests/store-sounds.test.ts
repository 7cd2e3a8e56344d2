// The store plays a cue when the connection drops and when it returns, not on retries.
import { describe, expect, it, vi } from 'vitest';
import { AppStore } from '../src/lib/app.svelte';
import { playCue } from '../src/lib/sounds';
import type { ConnectionKind } from '../src/lib/types';

vi.mock('$lib/api', () => import('./api-mock'));
vi.mock('../src/lib/sounds', () => ({ playCue: vi.fn(), armCues: vi.fn(() => () => {}) }));

const connection = (state: ConnectionKind) => ({
  type: 'connection' as const,
  connection: { state, attempt: null, nextInMs: state === 'reconnecting' ? 1000 : null, reason: null },
});

describe('connection sounds', () => {
  it('marks the drop and the return once each', () => {
    const app = new AppStore();
    for (const state of ['connecting', 'connected', 'reconnecting', 'reconnecting', 'offline', 'connected'] as const) {
      app.handle(connection(state));
    }
    expect(vi.mocked(playCue).mock.calls).toEqual([['disconnected'], ['reconnected']]);
  });

  it('can be turned off', () => {
    vi.mocked(playCue).mockClear();
    const app = new AppStore();
    app.sounds = false;
    app.handle(connection('connected'));
    app.handle(connection('reconnecting'));
    expect(playCue).not.toHaveBeenCalled();
  });
});
