/**
 * Where a campaign's ledger lives: `<state-dir>/campaigns/<name>/`, a local folder or an
 * S3 prefix, under the same discipline as run state (SPEC 3.1, 8): a pid lock locally, a
 * lease and conditional manifest writes on S3, so two runs of one campaign never
 * interleave. Data files (segments, journals, frozen decisions) are written whole under
 * new names and only then named by the manifest; whatever the manifest does not name is
 * left over from a crash and removed by the next holder.
 */
import { copyFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeOwnedTempDir, makePrivateDir, removeOwnedTempDir } from '../files/private-files.js';
import { AtomicBulkError } from '../model/errors.js';
import { LocalRunStore, S3RunStore, type LeaseOptions, type RunStore } from '../state/run-store.js';

/** A campaign name (SPEC 8). */
export const CAMPAIGN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Names of the ledger's data files. */
export const DATA_FILE = /^(seg|journal|decisions)-[0-9a-f]{8,64}(-\d+)?\.bin$/;

export interface CampaignStore {
  readonly where: string;
  /** A private local folder for sorting and downloads, removed on close. */
  readonly work: string;
  /** Requests the ledger made to S3 (0 for a local folder); its lease's are not counted. */
  readonly requests: number;
  readManifest(): Promise<string | null>;
  writeManifest(text: string): Promise<void>;
  /** Stores the local file at `path` as `name` (the local file is consumed). */
  put(name: string, path: string): Promise<void>;
  /** A local path holding `name`'s bytes. */
  get(name: string): Promise<string>;
  remove(name: string): Promise<void>;
  /** Names of the data files present. */
  list(): Promise<string[]>;
  close(): Promise<void>;
}

/** Refuses a name SPEC 8 does not allow (it becomes a folder or an S3 prefix). */
export function checkCampaignName(name: string): void {
  if (!CAMPAIGN_NAME.test(name))
    throw new AtomicBulkError(
      'USAGE',
      'A campaign name is 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit.',
    );
}

/** Where the state directory keeps its campaigns. */
function campaignsRoot(stateDir: string): string {
  return stateDir.startsWith('s3://')
    ? `${stateDir.endsWith('/') ? stateDir : `${stateDir}/`}campaigns/`
    : join(stateDir, 'campaigns');
}

export function campaignLocation(stateDir: string, name: string): string {
  checkCampaignName(name);
  const root = campaignsRoot(stateDir);
  return root.startsWith('s3://') ? `${root}${name}/` : join(root, name);
}

/** Opens the campaign's store, taking its lock or lease (BUSY, exit 3, when held). */
export async function openCampaignStore(
  stateDir: string,
  name: string,
  lease: LeaseOptions,
): Promise<CampaignStore> {
  const where = campaignLocation(stateDir, name);
  try {
    return where.startsWith('s3://')
      ? await S3CampaignStore.open(where, lease)
      : await LocalCampaignStore.open(where);
  } catch (error) {
    if (error instanceof AtomicBulkError && error.code === 'BUSY')
      throw new AtomicBulkError(
        'BUSY',
        `Another atomic-bulk run of campaign ${name} is working on its ledger.`,
        { hint: 'Two runs of one campaign never interleave: run again once it is done.' },
        error,
      );
    throw error;
  }
}

/** Lists the campaigns under a state directory. */
export async function listCampaigns(stateDir: string, s3Endpoint?: string): Promise<string[]> {
  if (stateDir.startsWith('s3://')) {
    const s3 = await import('../s3/s3.js');
    const { bucket, key } = s3.parseS3Uri(campaignsRoot(stateDir));
    const listing = await s3.listS3Prefix(bucket, key, {
      endpoint: s3Endpoint,
      label: 'Campaigns',
    });
    return listing.folders
      .map((f) => f.slice(key.length).replace(/\/$/, ''))
      .filter((n) => CAMPAIGN_NAME.test(n))
      .sort();
  }
  const names = await readdir(campaignsRoot(stateDir)).catch(() => [] as string[]);
  return names.filter((n) => CAMPAIGN_NAME.test(n)).sort();
}

class LocalCampaignStore implements CampaignStore {
  readonly requests = 0;
  private constructor(
    private readonly run: RunStore,
    readonly work: string,
  ) {}

  get where(): string {
    return this.run.dir;
  }

  static async open(dir: string): Promise<LocalCampaignStore> {
    const run = await LocalRunStore.open(dir);
    // Sorting happens beside the ledger, so finished files are renamed into place.
    const work = join(dir, `work-${process.pid}`);
    await rm(work, { recursive: true, force: true });
    await makePrivateDir(work);
    // Work folders of holders that died (the lock is ours now).
    for (const n of await readdir(dir))
      if (/^work-\d+$/.test(n) && n !== `work-${process.pid}`)
        await rm(join(dir, n), { recursive: true, force: true });
    await rm(join(dir, 'parts'), { recursive: true, force: true });
    return new LocalCampaignStore(run, work);
  }

  readManifest(): Promise<string | null> {
    return this.run.readManifest();
  }

  writeManifest(text: string): Promise<void> {
    return this.run.writeManifest(text);
  }

  async put(name: string, path: string): Promise<void> {
    await rename(path, join(this.where, name)).catch(async () => {
      await copyFile(path, join(this.where, name));
      await rm(path, { force: true });
    });
  }

  async get(name: string): Promise<string> {
    const path = join(this.where, name);
    if ((await stat(path).catch(() => null)) === null)
      throw new AtomicBulkError(
        'STATE',
        `The campaign ledger file ${name} in ${this.where} is missing.`,
        {
          hint: 'Something removed part of the ledger outside atomic-bulk; restore it from a backup.',
        },
      );
    return path;
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.where, name), { force: true });
  }

  async list(): Promise<string[]> {
    return (await readdir(this.where)).filter((n) => DATA_FILE.test(n));
  }

  async close(): Promise<void> {
    await rm(this.work, { recursive: true, force: true });
    await this.run.close();
  }
}

class S3CampaignStore implements CampaignStore {
  requests = 0;
  private s3!: typeof import('../s3/s3.js');
  private constructor(
    private readonly run: S3RunStore,
    readonly where: string,
    readonly work: string,
    private readonly endpoint: string | undefined,
  ) {}

  static async open(prefix: string, lease: LeaseOptions): Promise<S3CampaignStore> {
    const run = await S3RunStore.open(prefix, lease);
    const work = await makeOwnedTempDir('campaign').catch(async (error: unknown) => {
      await run.close();
      throw error;
    });
    const store = new S3CampaignStore(run, prefix, work, lease.s3Endpoint);
    store.s3 = await import('../s3/s3.js');
    return store;
  }

  private get options() {
    return { endpoint: this.endpoint, label: 'Campaign ledger' };
  }

  readManifest(): Promise<string | null> {
    this.requests++;
    return this.run.readManifest();
  }

  writeManifest(text: string): Promise<void> {
    this.requests++;
    return this.run.writeManifest(text);
  }

  async put(name: string, path: string): Promise<void> {
    const { size } = await stat(path);
    this.requests += size > this.s3.S3_PART_BYTES ? 2 + Math.ceil(size / this.s3.S3_PART_BYTES) : 1;
    await this.s3.putS3File(`${this.where}${name}`, path, 'application/octet-stream', this.options);
    await rm(path, { force: true });
  }

  async get(name: string): Promise<string> {
    const path = join(this.work, `get-${name}`);
    await rm(path, { force: true });
    this.requests++;
    await this.s3.downloadS3File(`${this.where}${name}`, path, this.options);
    return path;
  }

  async remove(name: string): Promise<void> {
    this.requests++;
    await this.s3.deleteS3Object(`${this.where}${name}`, this.options);
  }

  async list(): Promise<string[]> {
    const { bucket, key } = this.s3.parseS3Uri(this.where);
    this.requests++;
    const listing = await this.s3.listS3Prefix(bucket, key, this.options);
    return listing.objects.map((o) => o.key.slice(key.length)).filter((n) => DATA_FILE.test(n));
  }

  async close(): Promise<void> {
    await removeOwnedTempDir(this.work);
    await this.run.close();
  }
}
