/**
 * The conversation list and message lists, updated from events.
 *
 * Pure functions so the unread counts and ordering are tested without a window: a new
 * message counts as unread unless it is mine or its conversation is open on screen.
 */
import type { Conversation, DmMessage } from './types';


/** Most recent conversation first; conversations with no message yet last. */
export function sortConversations(list: Conversation[]): Conversation[] {
  return [...list].sort((a, b) => (b.lastAt ?? 0) - (a.lastAt ?? 0));
}

/** Unread messages across all conversations. */
export function totalUnread(list: Conversation[]): number {
  return list.reduce((sum, c) => sum + c.unread, 0);
}

/** The list after `message` arrived while conversation `openId` is on screen. */
export function applyMessage(list: Conversation[], message: DmMessage, openId: string | null): Conversation[] {
  const counts = !message.mine && message.conversationId !== openId;
  let found = false;
  const next = list.map((c) => {
    if (c.conversationId !== message.conversationId) return c;
    found = true;
    return {
      ...c,
      lastText: message.text,
      lastAt: message.sentAt,
      unread: counts ? c.unread + 1 : c.unread,
    };
  });
  // A message for a conversation we do not know yet: the shell's next `dm_changed`
  // brings it with its peers; until then the list stays as it was.
  return found ? sortConversations(next) : list;
}

/** The list with conversation `id` read. */
export function markRead(list: Conversation[], id: string): Conversation[] {
  return list.map((c) => (c.conversationId === id ? { ...c, unread: 0 } : c));
}

/** Messages oldest first, each once, with `message` added. */
export function appendMessage(messages: DmMessage[], message: DmMessage): DmMessage[] {
  if (messages.some((m) => m.messageId === message.messageId)) return messages;
  return sortMessages([...messages, message]);
}

/** Messages oldest first (stable for equal times). */
export function sortMessages(messages: DmMessage[]): DmMessage[] {
  return messages
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.sentAt - b.m.sentAt || a.i - b.i)
    .map(({ m }) => m);
}

/** The safety number in groups of five digits, the way people read it aloud. */
export function groupDigits(digits: string): string[] {
  const clean = digits.replace(/\s+/g, '');
  const groups: string[] = [];
  for (let i = 0; i < clean.length; i += 5) groups.push(clean.slice(i, i + 5));
  return groups;
}
