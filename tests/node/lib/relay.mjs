// A TCP relay in front of a server, for network blips: every connection
// through it is piped to the server, and cut() destroys them all at once on
// both sides (as a dropped Wi-Fi would), while new connections still pass.
import net from 'node:net';

/** Listens on a free 127.0.0.1 port; resolves {port, url, cut(), close()}. */
export function startRelay(targetPort) {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = [client, upstream];
    pairs.add(pair);
    const end = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        /** Destroys every connection through the relay; returns how many there were. */
        cut() {
          const n = pairs.size;
          for (const [a, b] of [...pairs]) { a.destroy(); b.destroy(); }
          pairs.clear();
          return n;
        },
        close() { this.cut(); return new Promise((r) => server.close(() => r())); },
      });
    });
  });
}
