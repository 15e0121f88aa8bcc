// A Node.js TypeScript project using the package: lib ES2022, no DOM, no
// @types. tests/wasm/typescript.test.mjs runs `tsc --strict --noEmit` on it.
import {
  createConnectionAgent, CompeitError, type ErrorCode, type HistoryPage, type StateChange, type User,
} from 'compeit-client';

declare const console: { log(...args: unknown[]): void };

function describe(code: ErrorCode): string {
  switch (code) {
    case 'room_full': return 'the room is full';
    case 'rate_limited': return 'slow down';
    default: return code;
  }
}

export async function main(url: string): Promise<void> {
  const ca = await createConnectionAgent();
  const stop = ca.on('chat_message', ({ message }) => console.log(message.user.name, message.text));
  ca.once('chat_event', ({ message }) => console.log(message.event, message.user.name));
  ca.on('private_message', ({ message }) => console.log('from', message.user.id, 'to', message.to, message.text));
  ca.on('statechange', (change: StateChange) => console.log(change.previous, '->', change.state, change.reason, change.delay ?? 0));
  ca.on('error', ({ error, source }) => console.log(source, error));
  const onLeft = ({ user }: { user: User }) => console.log(user.name, 'left');
  ca.on('user_left', onLeft);
  ca.off('user_left', onLeft);

  const me: User = await ca.connect(url, { name: 'Typed', reconnect: true, maxAttempts: 5, jitter: 0.3 });
  console.log(me.id, ca.state);
  await ca.joinRoom(7);
  await ca.chat.send('hello');
  let page: HistoryPage = await ca.chat.history({ limit: 20 });
  while (page.hasMore && page.messages.length) page = await ca.chat.history({ before: page.messages[0].id, limit: 20 });
  try {
    await ca.chat.sendTo(999999, 'anyone?');
  } catch (e) {
    if (e instanceof CompeitError) console.log(describe(e.code), e.message);
  }
  const game = ca.register('game', { onRoomMessage: (from, data) => console.log(from, data) });
  await game.sendToRoom({ move: 'e4' });
  const stream = ca.media.localStream;
  if (stream) console.log(stream.getTracks().length);
  stop();
  ca.disconnect();
}
