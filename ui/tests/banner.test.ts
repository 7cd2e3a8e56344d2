// The connection banner on screen: counts down each second, goes away when connected.
import { render, screen } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import ConnectionBanner from '../src/components/ConnectionBanner.svelte';
import { store, withApp } from './fixtures';

vi.mock('$lib/api', () => import('./api-mock'));

describe('connection banner', () => {
  afterEach(() => vi.useRealTimers());

  it('counts down to the next try and disappears once connected', async () => {
    vi.useFakeTimers();
    const app = store();
    render(ConnectionBanner, withApp(app));
    expect(screen.queryByTestId('connection-banner')).toBeNull();

    app.handle({ type: 'connection', connection: { state: 'reconnecting', attempt: 2, nextInMs: 3000, reason: null } });
    flushSync();
    const banner = screen.getByTestId('connection-banner');
    expect(banner.dataset.state).toBe('reconnecting');
    expect(screen.getByTestId('connection-countdown').textContent?.trim()).toBe('Next try in 3 seconds');
    expect(banner.textContent).toContain('Attempt 2');

    vi.advanceTimersByTime(1000);
    flushSync();
    expect(screen.getByTestId('connection-countdown').textContent?.trim()).toBe('Next try in 2 seconds');
    vi.advanceTimersByTime(1000);
    flushSync();
    expect(screen.getByTestId('connection-countdown').textContent?.trim()).toBe('Next try in 1 second');
    vi.advanceTimersByTime(1000);
    flushSync();
    expect(screen.getByTestId('connection-countdown').textContent?.trim()).toBe('Trying now…');

    app.handle({ type: 'connection', connection: { state: 'connected', attempt: null, nextInMs: null, reason: null } });
    flushSync();
    expect(screen.queryByTestId('connection-banner')).toBeNull();
  });

  it('says offline without a countdown when no retry is planned', () => {
    const app = store();
    render(ConnectionBanner, withApp(app));
    app.handle({ type: 'connection', connection: { state: 'offline', attempt: null, nextInMs: null, reason: 'network down' } });
    flushSync();
    expect(screen.getByTestId('connection-banner').dataset.state).toBe('offline');
    expect(screen.queryByTestId('connection-countdown')).toBeNull();
  });
});
