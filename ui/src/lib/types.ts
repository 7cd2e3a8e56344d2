/**
 * The types that cross the boundary to the Rust shell, in one place.
 *
 * Every type here comes from `./bindings/`, which the shell generates from its Rust types
 * (ts-rs); nothing is written by hand. The one name derived below picks an event out of
 * the generated union.
 */
export type {
  Account,
  AppState,
  Connection,
  ConnectionKind,
  Conversation,
  Device,
  Devices,
  DmMessage,
  Hosting,
  Hotkey,
  HotkeyAction,
  Language,
  Level,
  Member,
  Person,
  Role,
  Room,
  RoomLeftReason,
  RoomSummary,
  SafetyNumber,
  Settings,
  UiError,
  UiEvent,
  Visibility,
} from './bindings';

import type { UiEvent } from './bindings';

/** The event of the given `type`. */
export type EventOf<K extends UiEvent['type']> = Extract<UiEvent, { type: K }>;
