/**
 * The second pass's guarantee: with prefix digests from the first pass, no record made of
 * a changed byte is ever handed on, whatever the chunking; an unchanged input reads the
 * same as without verification.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_BYTES } from '../model/read-batch.js';
import { RecordReader } from './record-reader.js';

function campaign(rows: number): Buffer {
  const lines = ['id,name'];
  for (let k = 0; k < rows; k++) lines.push(`u${String(k).padStart(8, '0')},name-${k % 997}`);
  return Buffer.from(`${lines.join('\n')}\n`);
}

function* chunks(bytes: Buffer, sizes: number[]): Generator<Buffer> {
  let at = 0;
  for (let k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length] as number;
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

async function firstPass(bytes: Buffer) {
  const reader = new RecordReader();
  let records = 0;
  for await (const b of reader.batches([bytes])) records += b.records.count;
  return { summary: reader.summary(), records };
}

/** Reads a second pass; returns the largest record end handed on, and the error if any. */
async function secondPass(
  bytes: Buffer,
  summary: Awaited<ReturnType<typeof firstPass>>['summary'],
  sizes: number[],
) {
  const reader = new RecordReader({ verify: { summary, name: 'in.csv' } });
  let lastEnd = 0;
  let records = 0;
  try {
    for await (const b of reader.batches(chunks(bytes, sizes))) {
      records += b.records.count;
      for (let i = 0; i < b.records.count; i++)
        lastEnd = Math.max(lastEnd, b.records.absEnd[i] as number);
    }
  } catch (error) {
    return { lastEnd, records, error: error as Error };
  }
  return { lastEnd, records, error: null };
}

const BYTES = campaign(140_000); // about 3.2 MiB: three checkpoints and a tail

describe('RecordReader verifying a second pass', () => {
  it('reads an unchanged input whole, for any chunking', async () => {
    const { summary, records } = await firstPass(BYTES);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 3 << 20 }), { minLength: 1, maxLength: 5 }),
        async (sizes) => {
          const pass = await secondPass(BYTES, summary, sizes);
          expect(pass.error).toBeNull();
          expect(pass.records).toBe(records);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('hands on no record holding a changed byte, for any chunking and any changed byte', async () => {
    const { summary } = await firstPass(BYTES);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: BYTES.length - 1 }),
        fc.array(fc.integer({ min: 1, max: 3 << 20 }), { minLength: 1, maxLength: 5 }),
        async (at, sizes) => {
          const changed = Buffer.from(BYTES);
          changed[at] = changed[at] === 0x41 ? 0x42 : 0x41;
          const pass = await secondPass(changed, summary, sizes);
          expect(pass.error?.message).toMatch(/changed since it was validated/);
          // Nothing from the checkpoint block that holds the change was handed on.
          const blockStart = Math.floor(at / CHECKPOINT_BYTES) * CHECKPOINT_BYTES;
          expect(pass.lastEnd).toBeLessThanOrEqual(blockStart);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('notices an input that grew or shrank', async () => {
    const { summary } = await firstPass(BYTES);
    const longer = Buffer.concat([BYTES, Buffer.from('u99999999,extra\n')]);
    expect((await secondPass(longer, summary, [1 << 20])).error?.message).toMatch(/changed/);
    const shorter = BYTES.subarray(0, BYTES.length - 20);
    expect((await secondPass(shorter, summary, [65536])).error?.message).toMatch(/changed/);
  });
});
