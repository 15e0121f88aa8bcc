// Hostile input to the Kurento Agent in kurento mode (--media kurento) against
// the FAKE Kurento Media Server (tests/fake-kms, a test double: no media). The
// same table as in mesh mode; here hostile values that pass validation reach
// the media backend (SDPs with NUL, odd candidates, filters), so the server
// must also send the media server only well-formed requests (the fake records
// every violation) and survive whatever it answers.
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Target, hostileTests, finalCheck } from './lib/harness.mjs';
import { kurentoRequests, kurentoSetup } from './lib/kurento_requests.mjs';
import { startFakeKms } from '../fake-kms/fake-kms.mjs';

const kms = await startFakeKms();
const recordDir = mkdtempSync(join(tmpdir(), 'compeit-hostile-rec-'));
after(async () => {
  await kms.close();
  rmSync(recordDir, { recursive: true, force: true });
});

let servers = 0;
const target = new Target({
  args: ['--media', 'kurento', '--kms-url', kms.url, '--record-dir', recordDir],
  async setup(t) {
    await kms.waitForConnections(++servers); // a restarted server connects anew
    return kurentoSetup(t, 'sfu');
  },
});

// Every request the server sent the media server was well-formed.
let seen = 0;
const wellFormed = async () => {
  const fresh = kms.violations.slice(seen);
  seen = kms.violations.length;
  return fresh.map((v) => `request to the media server not well-formed: ${JSON.stringify(v).slice(0, 300)}`);
};

hostileTests(target, kurentoRequests('sfu'), { extraChecks: wellFormed });
finalCheck(target);
