import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DecompressingInput } from './decompress.js';
import type { ByteSource } from './source.js';

/** A source of fixed chunks that notes whether its reader was closed. */
function source(chunks: Buffer[]) {
  const state = { closed: 0 };
  const bytes: ByteSource = {
    name: 'in.csv',
    size: null,
    read: async function* () {
      try {
        for (const c of chunks) yield await Promise.resolve(c);
      } finally {
        state.closed++;
      }
    },
    close: () => Promise.resolve(),
  };
  return { bytes, state };
}

const CSV = Buffer.from('a,b\n1,2\n3,4\n');

describe('DecompressingInput', () => {
  it('closes the file under it when its reader is left early, plain or gzip', async () => {
    for (const data of [CSV, gzipSync(CSV)]) {
      const { bytes, state } = source([data.subarray(0, 8), data.subarray(8)]);
      const input = new DecompressingInput(bytes);
      for await (const _ of input.read()) break;
      expect(state.closed).toBe(1);
    }
  });

  it('closes it when it refuses a compression it cannot read', async () => {
    const { bytes, state } = source([Buffer.from('BZh91AY&SY')]);
    const input = new DecompressingInput(bytes);
    await expect(
      (async () => {
        for await (const _ of input.read());
      })(),
    ).rejects.toThrow(/compressed with bzip2/);
    expect(state.closed).toBe(1);
  });

  it('reads plain and gzip input whole', async () => {
    for (const data of [CSV, gzipSync(CSV)]) {
      const { bytes, state } = source([data.subarray(0, 3), data.subarray(3)]);
      const out: Buffer[] = [];
      for await (const c of new DecompressingInput(bytes).read()) out.push(Buffer.from(c));
      expect(Buffer.concat(out).toString()).toBe(CSV.toString());
      expect(state.closed).toBe(1);
    }
  });
});
