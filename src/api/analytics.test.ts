import { describe, expect, it } from 'vitest';
import { json, testServer } from '../../test/http-server.js';
import { downloadExportFile, MAX_EXPORT_FILES, readExportListing } from './analytics.js';

const SIG = 'X-Amz-Signature=s3cr3tsignature';

async function drain(url: string, limits?: { idleMs?: number; maxBytes?: number }) {
  let bytes = 0;
  for await (const chunk of downloadExportFile(url, undefined, limits)) bytes += chunk.length;
  return bytes;
}

describe('analytics export listing', () => {
  it('reads files under data.files, urls, a single url, or a bare list', () => {
    const from = '2026-12-07T10:00:00Z';
    expect(
      readExportListing(
        { data: { files: [{ url: 'https://x.test/a', from, to: '2026-12-07T11:00:00Z' }] } },
        'ndjson',
      ),
    ).toEqual([
      {
        url: 'https://x.test/a',
        from: Date.parse(from),
        to: Date.parse(from) + 3_600_000,
        format: 'ndjson',
      },
    ]);
    expect(
      readExportListing({ urls: ['https://x.test/a', 'https://x.test/b'] }, 'csv'),
    ).toHaveLength(2);
    expect(
      readExportListing(
        { urls: ['https://x.test/a', 'https://x.test/a', 'https://x.test/b'] },
        'csv',
      ),
    ).toHaveLength(2);
    expect(readExportListing({ data: { url: 'https://x.test/a' } }, 'ndjson')[0]!.from).toBeNull();
    const hour = readExportListing([{ href: 'https://x.test/h', hour: from }], 'ndjson')[0]!;
    expect(hour.to! - hour.from!).toBe(3_600_000);
  });

  it('quotes the keys, never the values, of a shape it cannot read', () => {
    const read = () =>
      readExportListing(
        { data: { links: ['https://x.test/?sig=s3cr3t'], next: 's3cr3t' } },
        'ndjson',
      );
    expect(read).toThrow('(keys: links, next)');
    expect(read).not.toThrow(/s3cr3t/);
    expect(() => readExportListing({ files: [{ path: 's3cr3t' }] }, 'ndjson')).toThrow(
      '(keys: path)',
    );
    expect(() => readExportListing({ files: ['file:///etc/passwd'] }, 'ndjson')).toThrow(
      /cannot read/,
    );
  });

  it('refuses a listing of more files than an export can have', () => {
    const files = Array.from({ length: MAX_EXPORT_FILES + 1 }, (_, k) => `https://x.test/${k}`);
    expect(() => readExportListing({ files }, 'ndjson')).toThrow(
      /more than 10000; it was not read/,
    );
  });
});

describe('analytics export download', () => {
  it('streams a file, and refuses a redirect or a refusal without showing the signature', async () => {
    const server = await testServer((req, res) => {
      if (req.url.startsWith('/ok')) {
        res.writeHead(200);
        res.end('x'.repeat(1000));
      } else if (req.url.startsWith('/redirect')) {
        res.writeHead(302, { Location: 'http://169.254.169.254/latest' });
        res.end();
      } else json(res, 403, { message: 'expired' });
    });
    expect(await drain(`${server.url}/ok?${SIG}`)).toBe(1000);
    await expect(drain(`${server.url}/redirect?${SIG}`)).rejects.toThrow(
      /a redirect \(HTTP 302\); atomic-bulk does not follow redirects/,
    );
    await expect(drain(`${server.url}/gone?${SIG}`)).rejects.toThrow(
      /HTTP 403 \(a download URL is valid for 15 minutes\)/,
    );
    await expect(drain(`${server.url}/gone?${SIG}`)).rejects.not.toThrow(/s3cr3t/);
    expect(server.requests.filter((r) => r.url.includes('169.254'))).toHaveLength(0);
  });

  it('stops a file that never ends, and one that stalls', async () => {
    const server = await testServer((req, res) => {
      res.writeHead(200);
      if (req.url.startsWith('/endless')) {
        const block = Buffer.alloc(64 * 1024, 120);
        const pump = () => {
          while (res.write(block));
        };
        res.on('drain', pump);
        pump();
      } else res.write('{"a":1}\n');
    });
    await expect(drain(`${server.url}/endless`, { maxBytes: 4 << 20 })).rejects.toThrow(
      /it is larger than 4194304 bytes/,
    );
    const started = Date.now();
    await expect(drain(`${server.url}/stall`, { idleMs: 300 })).rejects.toThrow(/stalled/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
