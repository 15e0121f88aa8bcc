// /healthz, /readyz (also 503 when the chat store cannot write), the /metrics
// route, and the access log (--access-log). The drain's /readyz is in drain.test.mjs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startProcess } from './lib/server.mjs';
import { httpRequest, handshake, openWs } from './lib/raw.mjs';
import { pollUntil } from './lib/proc.mjs';
import { startPostgres, postgresMissing } from './lib/postgres.mjs';

let server;
before(async () => { server = await startProcess([]); });
after(async () => { await server?.stop(); });

const readyz = async (port) => {
  const res = await httpRequest(port, { path: '/readyz' });
  return { ...res, json: JSON.parse(res.body) };
};

// An access log line in the text format: `<time> info <address:port> <METHOD> <path> <status> <bytes> <ms>ms`.
const accessLines = (stderr) => stderr.split('\n').filter((l) => /^\S+ info \S+:\d+ [A-Z-]+ \S* \d{3} \d+ [\d.]+ms$/.test(l));

test('/healthz answers 200 {"status":"ok"}, JSON, never cached', async () => {
  const res = await httpRequest(server.port, { path: '/healthz', headers: { origin: 'http://elsewhere.example' } });
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { status: 'ok' });
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.headers['cache-control'], 'no-store');
  const post = await httpRequest(server.port, { method: 'POST', path: '/healthz', body: '' });
  assert.equal(post.status, 405);
});

test('/readyz answers 200 with each check passing', async () => {
  const res = await readyz(server.port);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.json.ready, true);
  for (const name of ['listener', 'draining', 'chat_store']) assert.deepEqual(res.json.checks[name], { ok: true }, name);
});

test('/metrics answers in the Prometheus text format', async () => {
  const res = await httpRequest(server.port, { path: '/metrics' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(res.body, /^# (HELP|TYPE) /m);
});

test('access log: one line per request, socket.io and the upgrade (101) included, no query string', async () => {
  const logged = await startProcess(['--access-log']);
  try {
    const secret = 'access-log-secret-42';
    await httpRequest(logged.port, { path: `/healthz?token=${secret}` });
    const sid = await handshake(logged.port, `token=${secret}`);
    const ws = await openWs(logged.port, { query: `token=${secret}` });
    const poll = await httpRequest(logged.port, { path: `/socket.io/1/xhr-polling/${sid}?t=1` });
    assert.equal(poll.status, 200);
    await httpRequest(logged.port, { path: '/no/such/file' });
    ws.sock.destroy();
    const expected = [/ GET \/healthz 200 16 /, / GET \/socket\.io\/1\/ 200 /, / GET \/socket\.io\/1\/ 200 /,
      / GET \/socket\.io\/1\/websocket\/[0-9a-f]{8} 101 0 /, / GET \/socket\.io\/1\/xhr-polling\/[0-9a-f]{8} 200 /,
      / GET \/no\/such\/file 404 10 /];
    const lines = await pollUntil(() => {
      const l = accessLines(logged.stderr());
      return l.length >= expected.length ? l : null;
    }, { what: 'the access log lines', describe: () => logged.stderr().slice(-2000) });
    assert.equal(lines.length, expected.length, lines.join('\n'));
    expected.forEach((re, i) => assert.match(lines[i], re));
    assert.ok(!logged.stderr().includes(secret), 'the token never reaches the log');
    assert.ok(!logged.stderr().includes(sid), 'nor a sid: its tag stands in the path');
  } finally {
    await logged.stop();
  }
});

test('access log: a request refused before it is whole names its session by the tag too', async () => {
  const logged = await startProcess(['--access-log', '--max-frame', '100']);
  try {
    const sid = await handshake(logged.port);
    const res = await httpRequest(logged.port, {
      method: 'POST', path: `/socket.io/1/xhr-polling/${sid}`, body: 'x'.repeat(1000),
    });
    assert.equal(res.status, 413);
    const line = await pollUntil(() => accessLines(logged.stderr()).find((l) => / POST /.test(l)),
      { what: 'the refused POST in the access log', describe: () => logged.stderr().slice(-2000) });
    assert.match(line, / POST \/socket\.io\/1\/xhr-polling\/[0-9a-f]{8} 413 /);
    assert.ok(!logged.stderr().includes(sid), 'the sid never reaches the log');
  } finally {
    await logged.stop();
  }
});

test('no access log without --access-log', async () => {
  await httpRequest(server.port, { path: '/no/such/file' });
  const status = await httpRequest(server.port, { path: '/readyz' });
  assert.equal(status.status, 200);
  assert.deepEqual(accessLines(server.stderr()), []);
});

test('/readyz answers 503 naming the chat store when PostgreSQL is gone, and 200 once it is back',
  { skip: postgresMissing() ?? false, timeout: 120000 }, async () => {
    const pg = await startPostgres();
    const node = await startProcess(['--chat-db', pg.url]);
    try {
      assert.equal((await readyz(node.port)).status, 200);
      await pg.crash();
      const down = await pollUntil(async () => {
        const r = await readyz(node.port);
        return r.status === 503 ? r : null;
      }, { timeoutMs: 15000, what: '/readyz 503' });
      assert.equal(down.json.ready, false);
      assert.equal(down.json.checks.chat_store.ok, false);
      assert.match(down.json.checks.chat_store.reason, /chat database unavailable/);
      assert.deepEqual(down.json.checks.listener, { ok: true });
      assert.ok(!down.body.includes(pg.password), 'no secret in the answer');
      await pg.start();
      await pollUntil(async () => (await readyz(node.port)).status === 200, { timeoutMs: 15000, what: '/readyz 200 again' });
    } finally {
      await node.stop();
      await pg.stop();
    }
  });
