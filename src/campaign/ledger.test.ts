/**
 * The campaign ledger against a model: runs of random keys over simulated days, with
 * --once-per, repeats within a run, forget, many segments (so compaction runs), and
 * what a crash leaves (journals not folded, files the manifest does not name).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { mulberry32 } from '../sandbox/faults.js';
import { RecordSet } from '../model/record-set.js';
import { CampaignSecret } from './campaign-secret.js';
import { openCampaignStore } from './campaign-store.js';
import {
  decide,
  DECISION_BYTES,
  RUN_KEY_BYTES,
  SEND_AGAIN,
  SKIP_REPEAT,
  SKIP_SENT,
} from './check.js';
import { CampaignLedger, ENTRY_BYTES } from './ledger.js';
import {
  BufferCursor,
  ExternalSorter,
  MergedCursor,
  RecordWriter,
  forEach,
} from '../files/sorted-runs.js';

const SECRET = CampaignSecret.fromText('a-test-secret-of-enough-length');
const DAY = 86_400;

async function stateDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ledger-'));
  onTestFinished(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function open(dir: string, name = 'c', now = () => new Date()) {
  const store = await openCampaignStore(dir, name, {});
  const ledger = await CampaignLedger.open({
    store,
    name,
    secret: SECRET,
    now,
    create: { keyColumns: ['k'], destination: null },
  });
  return { store, ledger };
}

interface Decision {
  kind: number;
  occ: number;
  epoch: number;
  extra: number;
}

/** Runs `keys` (record n+1 = keys[n]) against the ledger at `at` seconds. */
async function check(
  ledger: CampaignLedger,
  keys: Buffer[],
  at: number,
  oncePer: number | null,
  invalid = new RecordSet(),
) {
  const run = new ExternalSorter(ledger.store.work, RUN_KEY_BYTES, RUN_KEY_BYTES, 64);
  const e = Buffer.alloc(RUN_KEY_BYTES);
  for (const [n, k] of keys.entries()) {
    k.copy(e, 0);
    e.writeUInt32BE(n + 1, 16);
    await run.add(e, 0);
  }
  await ledger.fold();
  const made = await decide(ledger, run, {
    oncePerSeconds: oncePer,
    now: new Date(at * 1000),
    invalid,
    workDir: ledger.store.work,
  });
  const out = new Map<number, Decision>();
  await forEach(
    new MergedCursor(await made.sorter.sources(), DECISION_BYTES, 4),
    DECISION_BYTES,
    (b, p) => {
      out.set(b.readUInt32BE(p), {
        kind: b[p + 4] as number,
        occ: b.readUInt16BE(p + 6),
        epoch: b.readUInt16BE(p + 8),
        extra: b.readUInt32BE(p + 10),
      });
    },
  );
  await made.sorter.dispose();
  return out;
}

/** Records the rows sent (no decision, or SEND_AGAIN) as one part's journal at `at`. */
async function record(
  ledger: CampaignLedger,
  runId: string,
  keys: Buffer[],
  decisions: Map<number, Decision>,
  at: number,
) {
  const w = new RecordWriter(
    join(ledger.store.work, `j-${randomBytes(4).toString('hex')}`),
    ENTRY_BYTES,
  );
  const e = Buffer.alloc(ENTRY_BYTES);
  for (const [n, k] of keys.entries()) {
    const d = decisions.get(n + 1);
    if (d !== undefined && d.kind !== SEND_AGAIN) continue;
    k.copy(e, 0);
    e.writeUInt32BE(at, 16);
    e.writeUInt16BE(d?.occ ?? 0, 20);
    e.writeUInt16BE(d?.epoch ?? ledger.manifest.epoch, 22);
    await w.add(e, 0);
  }
  await ledger.addJournal(runId, 1, w);
}

describe('campaign ledger', () => {
  it('decides like a model over 40 runs with churn, repeats, --once-per, forget and compaction', async () => {
    const dir = await stateDir();
    const random = mulberry32(20_261_207);
    const pool = Array.from({ length: 500 }, () => randomBytes(16));
    const model = new Map<string, { at: number; occ: number; epoch: number }>();
    let epoch = 0;
    const oncePer = 5 * DAY;
    for (let run = 0; run < 40; run++) {
      const at = 1_800_000_000 + run * DAY;
      const keys = Array.from(
        { length: 60 + Math.floor(random() * 80) },
        () => pool[Math.floor(random() * pool.length)] as Buffer,
      );
      const { store, ledger } = await open(dir);
      try {
        const got = await check(ledger, keys, at, oncePer);
        const seen = new Set<string>();
        keys.forEach((k, n) => {
          const hex = k.toString('hex');
          const d = got.get(n + 1);
          const last = model.get(hex);
          if (seen.has(hex)) expect(d?.kind, `run ${run} row ${n + 1}`).toBe(SKIP_REPEAT);
          else if (last !== undefined && at - last.at < oncePer)
            expect(d).toMatchObject({ kind: SKIP_SENT, extra: last.at });
          else if (last !== undefined)
            expect(d).toEqual({ kind: SEND_AGAIN, occ: last.occ + 1, epoch: last.epoch, extra: 0 });
          else expect(d, `run ${run} row ${n + 1}`).toBeUndefined();
          if (!seen.has(hex) && (d === undefined || d.kind === SEND_AGAIN))
            model.set(hex, { at, occ: d?.occ ?? 0, epoch: d?.epoch ?? epoch });
          seen.add(hex);
        });
        await record(ledger, `run-${run}`, keys, got, at);
        await ledger.finishRun({
          runId: `run-${run}`,
          startedAt: '',
          finishedAt: '',
          sent: 0,
          skipped: 0,
          outcome: 'success',
        });
        expect(ledger.manifest.segments.length).toBeLessThanOrEqual(6);
        if (run % 9 === 8) {
          const gone = [...model.keys()].slice(0, 7).map((h) => Buffer.from(h, 'hex'));
          const sorted = Buffer.concat([...gone].sort((a, b) => Buffer.compare(a, b)));
          expect(await ledger.forget(() => Promise.resolve(new BufferCursor(sorted)))).toBe(7);
          for (const g of gone) model.delete(g.toString('hex'));
          epoch++;
          expect(ledger.manifest.epoch).toBe(epoch);
        }
      } finally {
        await store.close();
      }
    }
    // What is left on disk is what the manifest names, and no more.
    const { store, ledger } = await open(dir);
    const named = new Set([...ledger.manifest.segments].map((s) => s.name));
    await store.close();
    const files = (await readdir(join(dir, 'campaigns', 'c'))).filter((n) => n.endsWith('.bin'));
    expect(new Set(files)).toEqual(named);
  });

  it('leaves rows the whole-file checks found invalid out of the decisions and the keys', async () => {
    const { store, ledger } = await open(await stateDir());
    onTestFinished(() => store.close());
    const k = randomBytes(16);
    const invalid = new RecordSet();
    invalid.add(1);
    // Row 1 is invalid: row 2, with the same key, is the first of it, not a repeat.
    const got = await check(ledger, [k, k], 1_800_000_000, null, invalid);
    expect(got.size).toBe(0);
  });

  it('folds the journals of a run that crashed, and sweeps files no manifest names', async () => {
    const dir = await stateDir();
    const k = randomBytes(16);
    {
      const { store, ledger } = await open(dir);
      const got = await check(ledger, [k], 1_800_000_000, null);
      await ledger.ensureSaved();
      await record(ledger, 'crashed', [k], got, 1_800_000_000);
      // No finishRun: the process died here.
      await writeFile(
        join(dir, 'campaigns', 'c', 'seg-0123456789abcdef.bin'),
        Buffer.alloc(ENTRY_BYTES),
      );
      await store.close();
    }
    const { store, ledger } = await open(dir);
    onTestFinished(() => store.close());
    expect(await readdir(join(dir, 'campaigns', 'c'))).not.toContain('seg-0123456789abcdef.bin');
    expect(ledger.manifest.journals).toHaveLength(1);
    const got = await check(ledger, [k], 1_800_000_100, null);
    expect(got.get(1)).toMatchObject({ kind: SKIP_SENT, extra: 1_800_000_000 });
    expect(ledger.manifest.journals).toHaveLength(0);
  });
});
