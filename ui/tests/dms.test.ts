// Conversations: unread counts, ordering, messages oldest first.
import { describe, expect, it } from 'vitest';
import { appendMessage, applyMessage, groupDigits, markRead, sortConversations, sortMessages, totalUnread } from '../src/lib/dms';
import { conversation, message } from './fixtures';

describe('conversation list', () => {
  const list = [
    conversation('c1', 'grace', { unread: 2, lastAt: 100 }),
    conversation('c2', 'alan', { unread: 0, lastAt: 300 }),
    conversation('c3', 'edsger', { unread: 1, lastAt: null }),
  ];

  it('adds up unread messages', () => {
    expect(totalUnread(list)).toBe(3);
    expect(totalUnread([])).toBe(0);
  });

  it('puts the most recent first and silent conversations last', () => {
    expect(sortConversations(list).map((c) => c.conversationId)).toEqual(['c2', 'c1', 'c3']);
  });

  it('counts a message from someone else in a conversation that is not open', () => {
    const next = applyMessage(list, message('m1', 'c1', 500, { text: 'hello' }), 'c2');
    const c1 = next.find((c) => c.conversationId === 'c1')!;
    expect(c1.unread).toBe(3);
    expect(c1.lastText).toBe('hello');
    expect(next[0].conversationId).toBe('c1');
  });

  it('does not count my own messages or messages in the open conversation', () => {
    expect(totalUnread(applyMessage(list, message('m1', 'c1', 500, { mine: true }), null))).toBe(3);
    expect(totalUnread(applyMessage(list, message('m1', 'c1', 500), 'c1'))).toBe(3);
  });

  it('leaves the list alone for an unknown conversation', () => {
    expect(applyMessage(list, message('m1', 'zz', 500), null)).toBe(list);
  });

  it('marks one conversation read', () => {
    const next = markRead(list, 'c1');
    expect(next.map((c) => c.unread)).toEqual([0, 0, 1]);
  });
});

describe('messages', () => {
  it('are oldest first and each appears once', () => {
    let msgs = sortMessages([message('b', 'c', 20), message('a', 'c', 10)]);
    msgs = appendMessage(msgs, message('c', 'c', 15));
    msgs = appendMessage(msgs, message('a', 'c', 10));
    expect(msgs.map((m) => m.messageId)).toEqual(['a', 'c', 'b']);
  });

  it('keep arrival order for equal times', () => {
    expect(sortMessages([message('x', 'c', 5), message('y', 'c', 5)]).map((m) => m.messageId)).toEqual(['x', 'y']);
  });

  it('safety numbers read in groups of five', () => {
    expect(groupDigits('12345 67890\n11111')).toEqual(['12345', '67890', '11111']);
    expect(groupDigits('1234567')).toEqual(['12345', '67']);
  });
});
