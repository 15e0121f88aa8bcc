// Starts a REAL Janus (Debian package `janus`, 1.1.2) for a test: a config
// written to a temporary folder, the WebSocket transport on 127.0.0.1 only
// (a free port), the VideoRoom the only plugin. Resolves to
// {url, port, stop(), restart(), log()}.
// Options: `nat`, extra settings of Janus' nat section (ICE), e.g.
// {ice_enforce_list: 'veth0', full_trickle: true}; `debugLevel` (default 4).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIB = '/usr/lib/x86_64-linux-gnu/janus';
export const janusBinary = process.env.JANUS_BIN || '/usr/bin/janus';

const freePort = () => new Promise((res, rej) => {
  const s = createServer();
  s.once('error', rej);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
});

const others = (kind, keep) => existsSync(join(LIB, kind))
  ? readdirSync(join(LIB, kind)).filter((f) => f.endsWith('.so') && f !== keep).join(',') : '';

// A libconfig value: strings quoted, numbers and booleans as they are.
const jcfgValue = (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

function writeConfig(dir, port, { nat = {}, debugLevel = 4 } = {}) {
  const natSettings = Object.entries(nat).map(([k, v]) => ` ${k} = ${jcfgValue(v)}`).join('');
  writeFileSync(join(dir, 'janus.jcfg'), `general: {
  configs_folder = "${dir}"
  plugins_folder = "${LIB}/plugins"
  transports_folder = "${LIB}/transports"
  events_folder = "${LIB}/events"
  loggers_folder = "${LIB}/loggers"
  debug_level = ${debugLevel}
  log_to_stdout = true
  session_timeout = 60
}
plugins: { disable = "${others('plugins', 'libjanus_videoroom.so')}" }
transports: { disable = "${others('transports', 'libjanus_websockets.so')}" }
loggers: { disable = "${others('loggers', '')}" }
events: { broadcast = false disable = "${others('events', '')}" }
media: { rtp_port_range = "20000-40000" }
nat: { nice_debug = false${natSettings} }
`);
  writeFileSync(join(dir, 'janus.transport.websockets.jcfg'), `general: { json = "compact" ws = true ws_port = ${port} ws_ip = "127.0.0.1" wss = false }
admin: { admin_ws = false admin_wss = false }
`);
  writeFileSync(join(dir, 'janus.plugin.videoroom.jcfg'), 'general: { }\n');
}

export async function startJanus(options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'compeit-janus-'));
  const port = await freePort();
  writeConfig(dir, port, options);
  let proc = null;
  let output = '';
  const launch = () => new Promise((resolve, reject) => {
    proc = spawn(janusBinary, ['-C', join(dir, 'janus.jcfg'), '-F', dir, '--disable-colors'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => reject(new Error(`Janus did not start:\n${output.slice(-3000)}`)), 15000);
    const onData = (d) => {
      output += d;
      if (new RegExp(`WebSockets server started \\(port ${port}\\)`, 'i').test(output.split('--- launch ---').pop())) {
        clearTimeout(timer);
        resolve();
      }
    };
    output += '--- launch ---\n';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`Janus exited ${code ?? signal}:\n${output.slice(-3000)}`)); });
  });
  const kill = async (signal = 'SIGKILL') => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await exited;
  };
  await launch();
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    log: () => output,
    kill,
    restart: launch,
    async stop() {
      await kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
