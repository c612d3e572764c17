/**
 * A minimal upload sink for measuring the tool's own sending overhead: it speaks just
 * enough of the Atomic API (token, csv-task) and takes each part with a presigned-style
 * PUT that it reads and discards, doing as little CPU work as possible — unlike the
 * sandbox, which parses, checks and records every row. Runs as its own process on
 * 127.0.0.1 and prints the ATOMIC_* settings to use, like `atomic-bulk sandbox`.
 */
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

const secret = randomBytes(16).toString('hex');
const token = randomBytes(16).toString('hex');
let parts = 0;
let bytes = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'POST' && url.pathname === '/oauth2/token') {
    req.resume();
    reply(200, { access_token: token, expires_in: 3600, token_type: 'Bearer' });
  } else if (req.method === 'POST' && url.pathname.endsWith('/csv-task')) {
    req.resume();
    if (req.headers.authorization !== `Bearer ${token}`) return reply(401, {});
    const port = (server.address() as { port: number }).port;
    reply(200, { data: { url: `http://127.0.0.1:${port}/upload/${++parts}` } });
  } else if (req.method === 'PUT' && url.pathname.startsWith('/upload/')) {
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      res.writeHead(200);
      res.end();
    });
  } else if (url.pathname === '/stats') {
    reply(200, { parts, bytes });
  } else {
    req.resume();
    reply(404, {});
  }
});

server.listen(0, '127.0.0.1', () => {
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  process.stdout.write(
    [
      `export ATOMIC_BASE_URL=${base}`,
      'export ATOMIC_ENVIRONMENT_ID=sink',
      `export ATOMIC_TOKEN_URL=${base}/oauth2/token`,
      'export ATOMIC_CLIENT_ID=sink',
      `export ATOMIC_CLIENT_SECRET=${secret}`,
      '',
    ].join('\n'),
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
