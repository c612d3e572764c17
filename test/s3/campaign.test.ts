/**
 * A recurring campaign whose ledger lives on a real S3 (radosgw, which enforces
 * conditional writes): a month of daily exports with churn under --once-per, pods killed
 * with SIGKILL and started two at once on some days, forget and a re-send; then every
 * object under the state prefix is read back and searched for the key values.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { createSandbox } from '../../src/sandbox/sandbox.js';
import { mulberry32 } from '../../src/sandbox/faults.js';
import {
  clockOf,
  expectedSends,
  expectNoRawKeys,
  expectSends,
  invocationsByUser,
  month,
  start,
} from '../campaign-helpers.js';
import { rgwClient } from './s3-client.js';
import { readReport, runCli, sendArgs, tempDir } from '../e2e/cli.js';

const rgw = inject('rgw');
const SEED = Number(process.env.CAMPAIGN_SEED ?? Math.floor(Math.random() * 2 ** 31));

const client = rgwClient;

/** Every object under the prefix, read whole. */
async function objects(s3: S3Client, bucket: string, prefix: string) {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const out: { name: string; bytes: Buffer }[] = [];
  for (const o of listed.Contents ?? []) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
    out.push({ name: o.Key as string, bytes: Buffer.from(await got.Body!.transformToByteArray()) });
  }
  return out;
}

describe(`a recurring campaign with its ledger on S3 (seed ${SEED})`, () => {
  it('sends each user once per 7 days over 30 daily exports, with kill -9 and two pods; forget re-sends one user; no key in any object', async () => {
    const s3 = client();
    const bucket = `campaign-${randomUUID().slice(0, 8)}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const sb = await createSandbox();
    onTestFinished(() => sb.stop());
    const dir = await tempDir();
    const state = `s3://${bucket}/state/`;
    const env = (d: number, minutes = 0) => ({
      ...sb.env,
      AWS_ACCESS_KEY_ID: rgw.accessKey,
      AWS_SECRET_ACCESS_KEY: rgw.secretKey,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: rgw.endpoint,
      ATOMIC_BULK_CLOCK: clockOf(d, minutes),
    });
    const random = mulberry32(SEED);
    const m = month(SEED, 30, 250);
    const expected = expectedSends(m.days, 7);
    const args = (input: string, report: string) =>
      sendArgs(input, state, join(dir, report), [
        '--campaign',
        'renewals',
        '--once-per',
        '7d',
        '--max-part-bytes',
        '1500',
        '--lease-ttl',
        '6',
        '--progress',
        'none',
      ]);
    let sentSoFar = 0;
    for (let d = 0; d < 30; d++) {
      const input = await m.write(d, dir);
      if (d % 5 === 1) {
        // Two pods at once; one of them killed at a random moment.
        const pods = [start(args(input, `a${d}`), env(d)), start(args(input, `b${d}`), env(d))];
        setTimeout(() => pods[d % 2]?.child.kill('SIGKILL'), Math.floor(random() * 1500));
        await Promise.all(pods.map((p) => p.done));
      }
      // The cron tick (after a killed pod, its lease runs out within 6 s: exit 3, then again).
      let tick = await runCli(args(input, `r${d}`), { env: env(d), timeoutMs: 120_000 });
      for (let retry = 0; tick.code === 3 && retry < 8; retry++) {
        await new Promise((r) => setTimeout(r, 2000));
        tick = await runCli(args(input, `r${d}-${retry}`), { env: env(d), timeoutMs: 120_000 });
      }
      expect(tick.code, `day ${d + 1}: ${tick.stderr}`).toBe(0);
      // Over the day's runs (pods and ticks), the rows sent are the ones due that day.
      const due = [...expected].filter(([, days]) => days.includes(d)).length;
      const got = await invocationsByUser(sb);
      const total = [...got.values()].reduce((n, c) => n + c, 0);
      sentSoFar += due;
      expect({ day: d + 1, total }).toEqual({ day: d + 1, total: sentSoFar });
    }
    await expectSends(sb, expected, `S3, 30 days, seed ${SEED}`);

    const who = (m.days[29] as string[])[0] as string;
    const forget = await runCli(
      ['campaign', 'forget', 'renewals', '--state-dir', state, '--key', who],
      {
        env: env(29),
      },
    );
    expect(forget.stdout, forget.stderr).toContain('Forgot 1 of 1 keys');
    const resend = await runCli(args(await m.write(29, dir), 'after'), { env: env(29, 30) });
    expect(resend.code, resend.stderr).toBe(0);
    expect(readReport(join(dir, 'after')).rows.sent).toBe(1);
    expected.set(who, [...(expected.get(who) ?? []), 29]);
    await expectSends(sb, expected, 'after forget');

    const stored = await objects(s3, bucket, 'state/campaigns/');
    expect(stored.some((o) => o.name.endsWith('manifest.json'))).toBe(true);
    expectNoRawKeys(stored, [...new Set(m.days.flat())]);
  }, 600_000);
});
