// A scratch PostgreSQL 15 for one test file: initdb in a fresh folder owned by
// the postgres user (tests run as root; initdb refuses root), listening only
// on 127.0.0.1 at a free port, its unix socket inside the folder, fsync off.
// Password authentication over TCP (scram-sha-256), so the tests can check the
// password never reaches a log. Every wait is bounded; stop() removes it all.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, chownSync, appendFileSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const pgBin = process.env.COMPEIT_PG_BIN || '/usr/lib/postgresql/15/bin';
const asRoot = process.getuid?.() === 0;

/** Why PostgreSQL cannot run here, or null when it can. */
export function postgresMissing() {
  for (const tool of ['initdb', 'pg_ctl', 'psql']) {
    if (!existsSync(join(pgBin, tool))) return `${join(pgBin, tool)} not found (Debian: apt-get install postgresql)`;
  }
  if (asRoot) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      return 'no postgres user to run initdb as';
    }
  }
  return null;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/** Runs a PostgreSQL tool as the postgres user (as root) or as ourselves; bounded. */
function pgTool(tool, args, timeout = 60000) {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(pgBin, tool), ...args]] : [join(pgBin, tool), args];
  return new Promise((res, rej) => {
    execFile(file, argv, { timeout, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${tool} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else res(stdout);
    });
  });
}

const running = new Set();  // data dirs to stop if the test process exits early
process.on('exit', () => {
  for (const data of running) {
    try {
      const args = ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '10'];
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', join(pgBin, 'pg_ctl'), ...args], { stdio: 'ignore', timeout: 15000 });
      else execFileSync(join(pgBin, 'pg_ctl'), args, { stdio: 'ignore', timeout: 15000 });
    } catch { /* already gone */ }
  }
});

/**
 * Starts a fresh cluster. Resolves to {url, port, password, start(), crash(), psql(sql), stop()}:
 * `url` is postgresql://postgres:<password>@127.0.0.1:<port>/postgres; crash() stops it at once
 * (`pg_ctl stop -m immediate`, as if killed) keeping the data, start() brings it back on the same
 * port; psql(sql) returns the rows as arrays of strings; stop() stops it and removes the folder.
 */
export async function startPostgres({ timeout = 60000 } = {}) {
  const reason = postgresMissing();
  if (reason) throw new Error(reason);
  const dir = mkdtempSync(join(tmpdir(), 'compeit-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  const log = join(dir, 'postgres.log');
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  try {
    mkdirSync(sockets);
    writeFileSync(join(dir, 'pwfile'), `${password}\n`);
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      for (const p of [dir, sockets, join(dir, 'pwfile')]) chownSync(p, uid, gid);
    }
    await pgTool('initdb', ['-D', data, '-U', 'postgres', '--pwfile', join(dir, 'pwfile'), '-E', 'UTF8', '--locale=C',
      '--auth-local=trust', '--auth-host=scram-sha-256', '--no-sync'], timeout);
    rmSync(join(dir, 'pwfile'));
    appendFileSync(join(data, 'postgresql.conf'), [
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${sockets}'`,
      'fsync = off',
      'full_page_writes = off',
      'max_connections = 50',
      '',
    ].join('\n'));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const ctl = (args, t = timeout) => pgTool('pg_ctl', ['-D', data, ...args], t);
  async function start() {
    await ctl(['start', '-l', log, '-w', '-t', String(Math.ceil(timeout / 1000))], timeout + 5000)
      .catch((e) => { throw new Error(`${e.message}\npostgres.log:\n${tail()}`); });
    running.add(data);
  }
  async function crash() {
    await ctl(['stop', '-m', 'immediate', '-w', '-t', '20'], 30000);
    running.delete(data);
  }
  const tail = () => { try { return readFileSync(log, 'utf8').slice(-3000); } catch { return '(no log)'; } };
  const url = `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`;

  await start().catch((e) => { rmSync(dir, { recursive: true, force: true }); throw e; });
  return {
    url,
    port,
    password,
    start,
    crash,
    log: tail,
    /** Rows of `sql` (one statement, no parameters) as arrays of strings ('NULL' for NULL). */
    async psql(sql) {
      const out = await new Promise((res, rej) => {
        execFile(join(pgBin, 'psql'), [url, '-X', '-A', '-t', '-F', '\t', '-P', 'null=NULL', '-v', 'ON_ERROR_STOP=1', '-c', sql],
          { timeout: 20000, encoding: 'utf8' },
          (err, stdout, stderr) => (err ? rej(new Error(`psql ${sql}: ${err.message}\n${stderr}`)) : res(stdout)));
      });
      return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
    },
    async stop() {
      if (running.has(data)) await crash().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
