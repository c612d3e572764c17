/**
 * The sandbox under abuse from the same machine, each finding reproduced: connections
 * without credentials that trickle, crowd or oversize; a task's URL used for another
 * task's upload; duplicated signatures; and what it leaves on disk when it stops, exits or
 * is killed. Processing must never wait on anyone without a valid upload URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { AtomicClient } from '../../src/api/client.js';
import { createSandbox, type Sandbox, type SandboxOptions } from '../../src/sandbox/sandbox.js';
import { AUTH_DEADLINE_MS, MAX_UNAUTHENTICATED } from '../../src/sandbox/local-store.js';
import { DRAIN_MAX_MS } from '../../src/sandbox/http.js';
import { uploadPart } from '../../src/upload/uploader.js';
import type { UploadTarget } from '../../src/model/upload-target.js';
import { BIN, tempDir } from '../e2e/cli.js';

async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const sb = await createSandbox(options);
  onTestFinished(() => sb.stop());
  return sb;
}

const HEADER = 'target.attributes.atomic___id,payload.variables.firstName,payload.variables.amount';

async function partFile(rows: number, tag = 'u'): Promise<string> {
  const path = join(await tempDir(), 'part-0001.csv');
  const lines = Array.from({ length: rows }, (_, i) => `${tag}-${i},Name,${i}`);
  await writeFile(path, `${HEADER}\n${lines.join('\n')}\n`);
  return path;
}

async function target(sb: Sandbox): Promise<UploadTarget> {
  return new AtomicClient(sb.connection).createCsvTask('renewal-reminder', 'live');
}

/** A raw connection that sends `head` and then one byte every `everyMs` until closed. */
function trickle(
  url: string,
  head: string,
  everyMs = 200,
): Promise<{ socket: Socket; closed: Promise<number> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname, () => {
      socket.write(head);
      const started = Date.now();
      const timer = setInterval(() => {
        if (!socket.destroyed) socket.write('a');
      }, everyMs);
      const closed = new Promise<number>((done) =>
        socket.once('close', () => {
          clearInterval(timer);
          done(Date.now() - started);
        }),
      );
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      onTestFinished(() => {
        socket.destroy();
      });
      resolve({ socket, closed });
    });
    socket.once('error', reject);
  });
}

/** A raw request whose answer status line is read, with its head only sent. */
function statusOf(url: string, head: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname, () => socket.write(head));
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m !== null) {
        resolve(Number(m[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(0));
  });
}

describe('nobody without a URL can stall processing', () => {
  it('an unsigned PUT trickling a byte at a time is cut off and holds nothing up', async () => {
    const sb = await sandbox();
    const host = new URL(sb.s3Endpoint).host;
    const attack = await trickle(
      sb.s3Endpoint,
      `PUT /atomic-sandbox/x.csv HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100000\r\n\r\n`,
    );
    const outcome = await uploadPart({
      target: await target(sb),
      path: await partFile(300),
      timeoutMs: 10_000,
    });
    expect(outcome.kind).toBe('accepted');
    const started = Date.now();
    await sb.settle(3_000);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(sb.stats().invocations).toBe(300);
    expect(await attack.closed).toBeLessThan(DRAIN_MAX_MS + 1_500);
  });

  it('an unsigned POST trickling its form is cut off at the signature deadline, processing goes on', async () => {
    const sb = await sandbox();
    const host = new URL(sb.s3Endpoint).host;
    const attack = await trickle(
      sb.s3Endpoint,
      `POST /atomic-sandbox HTTP/1.1\r\nHost: ${host}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name="key"\r\n\r\n`,
    );
    expect(
      (await uploadPart({ target: await target(sb), path: await partFile(300), timeoutMs: 10_000 }))
        .kind,
    ).toBe('accepted');
    await sb.settle(3_000);
    expect(sb.stats().invocations).toBe(300);
    const lasted = await attack.closed;
    expect(lasted).toBeGreaterThan(AUTH_DEADLINE_MS - 1_000);
    expect(lasted).toBeLessThan(AUTH_DEADLINE_MS + 2_000);
  }, 20_000);

  it('a body trickled at an unknown upload URL of the API is cut off too', async () => {
    const sb = await sandbox();
    const host = new URL(sb.url).host;
    const attack = await trickle(
      sb.url,
      `POST /upload/not-a-task HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100000\r\n\r\n`,
    );
    expect(await attack.closed).toBeLessThan(DRAIN_MAX_MS + 1_500);
  });

  it('caps connections that have not shown a signature; more are answered 503 at once', async () => {
    const sb = await sandbox();
    const host = new URL(sb.s3Endpoint).host;
    const head = `POST /atomic-sandbox HTTP/1.1\r\nHost: ${host}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n`;
    const crowd = [];
    for (let i = 0; i < MAX_UNAUTHENTICATED; i++)
      crowd.push(await trickle(sb.s3Endpoint, head, 1_000));
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    expect(await statusOf(sb.s3Endpoint, head)).toBe(503);
    expect(Date.now() - started).toBeLessThan(1_000);
    // Once the crowd is cut off at the deadline, uploads go through again.
    await Promise.all(crowd.map((c) => c.closed));
    expect(
      (await uploadPart({ target: await target(sb), path: await partFile(5), timeoutMs: 10_000 }))
        .kind,
    ).toBe('accepted');
  }, 20_000);
});

describe('each URL uploads only what it was issued for', () => {
  it('a PUT over the upload cap is refused before its body is read, whatever it declares', async () => {
    const sb = await sandbox({ uploadMethod: 'put', maxUploadBytes: 1000 });
    const put = await target(sb);
    const u = new URL(put.url);
    const head = (length: number) =>
      `PUT ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Length: ${length}\r\n\r\n`;
    expect(await statusOf(put.url, head(300 * 1024 * 1024))).toBe(400);
    expect(await statusOf(put.url, head(1001))).toBe(400);
    const uploads = join(sb.folder, 'uploads');
    expect((await readdir(uploads)).filter((f) => !f.startsWith('.'))).toEqual([]);
    expect(
      (await uploadPart({ target: put, path: await partFile(3), timeoutMs: 10_000 })).kind,
    ).toBe('accepted');
  });

  it('refuses another task’s form at a task’s URL; both tasks still upload and are processed', async () => {
    const sb = await sandbox();
    const a = await target(sb);
    const b = await target(sb);
    const crossed = await uploadPart({
      target: { ...b, url: a.url },
      path: await partFile(2, 'crossed'),
      timeoutMs: 10_000,
    });
    expect(crossed.kind).toBe('refused');
    expect(crossed.kind === 'refused' ? crossed.status : 0).toBe(403);
    expect(
      (await uploadPart({ target: a, path: await partFile(2, 'a'), timeoutMs: 10_000 })).kind,
    ).toBe('accepted');
    expect(
      (await uploadPart({ target: b, path: await partFile(3, 'b'), timeoutMs: 10_000 })).kind,
    ).toBe('accepted');
    await sb.settle();
    expect(sb.tasks().map((t) => [t.status, t.rows])).toEqual([
      ['processed', 2],
      ['processed', 3],
    ]);
  });

  it('refuses a PUT URL whose signature is given twice', async () => {
    const sb = await sandbox({ uploadMethod: 'put' });
    const put = await target(sb);
    const signature = new URL(put.url).searchParams.get('X-Amz-Signature') ?? '';
    const doubled = await uploadPart({
      target: { ...put, url: `${put.url}&X-Amz-Signature=${signature}` },
      path: await partFile(2),
      timeoutMs: 10_000,
    });
    expect(doubled.kind === 'refused' ? doubled.status : doubled.kind).toBe(400);
  });
});

describe('the inspection routes at scale', () => {
  it('pages /sandbox/invocations and says where the next page starts', async () => {
    const sb = await sandbox();
    await uploadPart({ target: await target(sb), path: await partFile(2500), timeoutMs: 10_000 });
    await sb.settle();
    const page = async (query: string) => {
      const answer = await fetch(`${sb.url}/sandbox/invocations${query}`, {
        headers: { authorization: `Bearer ${sb.inspectionToken}` },
      });
      return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
    };
    const first = await page('');
    expect(first.body).toMatchObject({ total: 2500, next: 1000, payloadsStored: true });
    expect((first.body.data as unknown[]).length).toBe(1000);
    const last = await page('?offset=2000&limit=10000');
    expect((last.body.data as unknown[]).length).toBe(500);
    expect(last.body.next).toBeNull();
    expect((await page('?limit=10001')).status).toBe(400);
    expect((await page('?offset=-1')).status).toBe(400);
  });
});

describe('rehearsing a recurring campaign', () => {
  it('shows each user’s cards and how many users got more than one', async () => {
    const sb = await sandbox();
    // Two daily exports: users u-0 … u-9, then u-5 … u-14 (new ids: a second send).
    await uploadPart({ target: await target(sb), path: await partFile(10), timeoutMs: 10_000 });
    const second = join(await tempDir(), 'part-0001.csv');
    const rows = Array.from({ length: 10 }, (_, i) => `u-${i + 5},Name,${i}`);
    await writeFile(second, `${HEADER}\n${rows.join('\n')}\n`);
    await uploadPart({ target: await target(sb), path: second, timeoutMs: 10_000 });
    await sb.settle();
    expect(sb.stats().users).toEqual({
      'renewal-reminder-card': { users: 15, withMoreThanOneCard: 5 },
    });
    const user = async (id: string) =>
      (await (
        await fetch(`${sb.url}/sandbox/users?userId=${id}`, {
          headers: { authorization: `Bearer ${sb.inspectionToken}` },
        })
      ).json()) as { data: { cards: unknown[] } };
    expect((await user('u-7')).data.cards).toEqual([
      { cardTemplateId: 'renewal-reminder-card', cards: 2 },
    ]);
    expect((await user('u-1')).data.cards).toEqual([
      { cardTemplateId: 'renewal-reminder-card', cards: 1 },
    ]);
  });
});

describe('what the sandbox leaves on disk', () => {
  it('keeps no uploaded file once processed, and removes its folder when it stops', async () => {
    const sb = await createSandbox({ tempDir: await tempDir() });
    expect(
      await uploadPart({ target: await target(sb), path: await partFile(50), timeoutMs: 10_000 }),
    ).toMatchObject({
      kind: 'accepted',
    });
    await sb.settle();
    expect((await readdir(join(sb.folder, 'uploads'))).filter((f) => !f.startsWith('.'))).toEqual(
      [],
    );
    await sb.stop();
    expect(existsSync(sb.folder)).toBe(false);
  });

  function sandboxProcess(tmp: string, args: string[] = []): Promise<ChildProcess> {
    const child = spawn(process.execPath, [BIN, 'sandbox', '--port', '0', ...args], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ATOMIC_SANDBOX_TOKEN=')) resolve(child);
      });
      child.once('exit', () => reject(new Error('the sandbox exited early')));
    });
  }

  const folders = async (tmp: string) =>
    (await readdir(tmp)).filter((f) => f.startsWith('atomic-bulk-sandbox-'));

  it('removes its folder on Ctrl-C, and a killed sandbox’s folder at the next start', async () => {
    const tmp = await tempDir();
    const stopped = await sandboxProcess(tmp);
    expect(await folders(tmp)).toHaveLength(1);
    stopped.kill('SIGINT');
    await new Promise((r) => stopped.once('exit', r));
    expect(await folders(tmp)).toEqual([]);

    const killed = await sandboxProcess(tmp);
    const left = await folders(tmp);
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    expect(await folders(tmp)).toEqual(left);
    // Another user's or a live process's folder would be left alone (private-files.test.ts).
    const next = await createSandbox({ tempDir: tmp });
    expect(await folders(tmp)).toEqual([next.folder.split('/').pop()]);
    await next.stop();
    expect(await folders(tmp)).toEqual([]);
  }, 30_000);

  it('removes its folder when the process exits without stopping it', async () => {
    const tmp = await tempDir();
    const script = `import('${join(BIN, '../../sandbox/sandbox.js')}').then(async (m) => { const sb = await m.createSandbox({ tempDir: ${JSON.stringify(tmp)} }); console.log(sb.folder); process.exit(0); });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.once('exit', r));
    expect(out.trim()).toContain('atomic-bulk-sandbox-');
    expect(existsSync(out.trim())).toBe(false);
  });
});
