/**
 * The connection banner: what to say while the link to the server is down.
 *
 * The shell reports `reconnecting`/`offline` with the delay until its next attempt; the
 * banner counts that down from the moment the report arrived, so it stays right however
 * often the view redraws.
 */
import type { Connection, ConnectionKind } from './types';

type ConnectionState = ConnectionKind;

/** A report and when it arrived (ms, same clock as `now` below). */
export interface ConnectionStatus {
  report: Connection;
  receivedAt: number;
}

export interface Banner {
  kind: 'connecting' | 'reconnecting' | 'offline';
  /** Whole seconds until the next attempt, or `null` when none is scheduled. */
  secondsLeft: number | null;
  attempt: number | null;
  reason: string | null;
}

/** What the banner shows at `now`, or `null` when connected. */
export function bannerAt(status: ConnectionStatus | null, now: number): Banner | null {
  if (!status) return null;
  const { report } = status;
  const kind = report.state;
  if (kind === 'connected') return null;
  const nextIn = report.nextInMs;
  const secondsLeft =
    nextIn === null ? null : Math.max(0, Math.ceil((status.receivedAt + nextIn - now) / 1000));
  return {
    kind,
    secondsLeft,
    attempt: report.attempt,
    reason: report.reason,
  };
}

/** Which sound marks the change from `before` to `after`, if any. */
export function transitionSound(
  before: ConnectionState | null,
  after: ConnectionState,
): 'disconnected' | 'reconnected' | null {
  const down = (s: ConnectionState | null) => s === 'reconnecting' || s === 'offline';
  if (before === 'connected' && down(after)) return 'disconnected';
  if (down(before) && after === 'connected') return 'reconnected';
  return null;
}
