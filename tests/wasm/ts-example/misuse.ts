// Not part of the example project: tests/wasm/typescript.test.mjs checks
// that tsc refuses it (an unknown error code, a wrong listener payload).
import type { ErrorCode, ConnectionAgent } from 'compeit-client';

export const code: ErrorCode = 'no_such_code';
export function listen(ca: ConnectionAgent): void {
  ca.on('chat_message', ({ message }) => message.event);
}
