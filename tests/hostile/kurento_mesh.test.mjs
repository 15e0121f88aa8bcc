// Hostile input to the Kurento Agent in mesh mode (the default): every field of
// every action (KU-2..KU-6), and the action and the whole data, replaced by
// every hostile value. Browsers connect peer to peer here, so the server only
// relays signalling: it must refuse what it cannot relay, naming the field, and
// never fail in its own code.
import { Target, hostileTests, finalCheck } from './lib/harness.mjs';
import { kurentoRequests, kurentoSetup } from './lib/kurento_requests.mjs';

const target = new Target({ setup: (t) => kurentoSetup(t, 'mesh') });

hostileTests(target, kurentoRequests('mesh'));
finalCheck(target);
