/**
 * What the `<input>` arguments name (SPEC 4): one file, `-`, one S3 object — or several
 * files read as one campaign: several paths, a directory, a glob (`exports/*.csv.gz`,
 * wildcards in the last name only), an `s3://bucket/prefix/` or an S3 glob.
 *
 * Order is deterministic and documented: the arguments in the order given; the files of
 * one directory, glob or prefix by name, runs of digits compared as numbers
 * (`data_0_2_0` before `data_0_10_0`), so warehouse shards stay in the order they were
 * written. Names starting with `_` or `.` inside a directory or prefix (Spark's
 * `_SUCCESS`, Hadoop's `.crc` files) are markers, not data, and are left out; naming one
 * explicitly reads it. A directory or prefix with sub-folders is refused rather than half
 * read.
 */
import { Stats, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AtomicBulkError } from '../model/errors.js';
import { printable } from '../model/redact.js';

export interface ResolvedInput {
  /** Every file, in reading order. */
  files: string[];
  /** True when the arguments name several files, a directory, a glob or a prefix. */
  multi: boolean;
}

const GLOB = /[*?[]/;
/** Names of files that document an export rather than hold it (README.txt, manifest.json). */
const NOT_DATA = /\.(txt|md|json|ya?ml|log|html?|xml|pdf|sql)$/i;

/** Expands the `<input>` arguments into the files to read, in order. */
export async function resolveInputs(
  specs: readonly string[],
  options: { s3Endpoint?: string } = {},
): Promise<ResolvedInput> {
  if (specs.length === 0)
    throw new AtomicBulkError(
      'USAGE',
      'Name the input: a CSV file, - for standard input, or s3://bucket/key.',
    );
  if (specs.length > 1 && specs.includes('-'))
    throw new AtomicBulkError('USAGE', 'Standard input (-) cannot be combined with other inputs.');
  const files: string[] = [];
  let multi = specs.length > 1;
  for (const spec of specs) {
    const expanded = await expand(spec, options);
    if (expanded === null) files.push(spec);
    else {
      multi = true;
      files.push(...expanded);
    }
  }
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f))
      throw new AtomicBulkError('USAGE', `Input ${printable(f)} is named twice.`, {
        hint: 'Name each file once; a directory or glob already includes the files it matches.',
      });
    seen.add(f);
  }
  return { files, multi };
}

/** The files one argument stands for, or null when it is a single file, object or `-`. */
async function expand(spec: string, options: { s3Endpoint?: string }): Promise<string[] | null> {
  if (spec === '-') return null;
  if (spec.startsWith('s3://')) return expandS3(spec, options);
  const name = basename(spec);
  if (GLOB.test(dirname(spec)) && !(await stat(spec).catch(() => null)))
    throw new AtomicBulkError(
      'USAGE',
      `Input ${printable(spec)}: a wildcard works in the last part of a path only, not in a folder name.`,
      { hint: 'Name the folder, or let your shell expand the pattern (leave it unquoted).' },
    );
  if (GLOB.test(name)) {
    const dir = dirname(spec);
    const match = globMatcher(name);
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: unknown) => {
      throw new AtomicBulkError(
        'INPUT',
        `Input ${printable(spec)}: the folder ${printable(dir)} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    });
    const found = await regularFiles(
      dir,
      entries.filter((e) => match(e.name)),
    );
    if (found.length === 0) throw noFiles(spec);
    return found.sort(naturalCompare).map((n) => join(dir, n));
  }
  const s = await stat(spec).catch(() => null);
  if (s === null || !s.isDirectory()) return null;
  const entries = await readdir(spec, { withFileTypes: true });
  const visible = entries.filter((e) => !isMarker(e.name));
  const folder = visible.find((e) => e.isDirectory());
  if (folder !== undefined)
    throw new AtomicBulkError(
      'INPUT',
      `Input ${printable(spec)} holds a folder, ${printable(folder.name)}; atomic-bulk reads the files of one folder, not below it.`,
      {
        hint: 'Name the files or a glob (for example dir/*/*.csv.gz expanded by your shell).',
      },
    );
  const found = await regularFiles(spec, visible);
  const stray = found.find((n) => NOT_DATA.test(n));
  if (stray !== undefined)
    throw new AtomicBulkError(
      'INPUT',
      `Input ${printable(spec)} holds ${printable(stray)}, which does not look like a part of the export; atomic-bulk would read it as one.`,
      {
        hint: `Move it out of the folder, or name the shards with a glob (for example '${join(spec, '*.csv.gz')}').`,
      },
    );
  if (found.length === 0) throw noFiles(spec);
  return found.sort(naturalCompare).map((n) => join(spec, n));
}

/**
 * The entries that are regular files, following symbolic links (docs/decisions.md): a
 * link to a file is read like the file. Anything else — a folder, a FIFO, a socket, a
 * device, a dangling or looping link — is an error naming it, never skipped in silence.
 */
async function regularFiles(dir: string, entries: readonly Dirent[]): Promise<string[]> {
  const found: string[] = [];
  for (const entry of entries) {
    if (entry.isFile()) {
      found.push(entry.name);
      continue;
    }
    const path = join(dir, entry.name);
    const target = entry.isSymbolicLink() ? await stat(path).catch((e: unknown) => e) : null;
    if (target instanceof Stats && target.isFile()) {
      found.push(entry.name);
      continue;
    }
    const what = entry.isSymbolicLink()
      ? target instanceof Stats
        ? `a link to ${kindOf(target)}`
        : `a link that leads nowhere readable (${(target as NodeJS.ErrnoException).code ?? 'error'})`
      : kindOf(entry);
    throw new AtomicBulkError(
      'INPUT',
      `Input ${printable(path)} is ${what}, not a file atomic-bulk can read as part of the campaign.`,
      { hint: 'Remove it from the folder, or name the files to send (a glob or a list of paths).' },
    );
  }
  return found;
}

function kindOf(entry: Dirent | Stats): string {
  if (entry.isDirectory()) return 'a folder';
  if (entry.isFIFO()) return 'a named pipe (FIFO)';
  if (entry.isSocket()) return 'a socket';
  if (entry.isCharacterDevice() || entry.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

async function expandS3(spec: string, options: { s3Endpoint?: string }): Promise<string[] | null> {
  const { parseS3Uri, listS3Prefix } = await import('../s3/s3.js');
  const { bucket, key } = parseS3Uri(spec);
  const slash = key.lastIndexOf('/');
  const name = key.slice(slash + 1);
  const isPrefix = key === '' || key.endsWith('/');
  if (!isPrefix && !GLOB.test(name)) return null;
  const prefix = isPrefix ? key : key.slice(0, slash + 1);
  const match = isPrefix ? () => true : globMatcher(name);
  const listing = await listS3Prefix(bucket, prefix, { endpoint: options.s3Endpoint });
  if (isPrefix && listing.folders.length > 0)
    throw new AtomicBulkError(
      'INPUT',
      `Input ${printable(spec)} holds a sub-folder, ${printable(listing.folders[0] as string)}; atomic-bulk reads the objects of one prefix, not below it.`,
      {
        hint: 'Name the deeper prefix itself, or a glob such as s3://bucket/prefix/part-*.csv.gz.',
      },
    );
  const found = listing.objects
    .map((o) => o.key.slice(prefix.length))
    .filter((n) => n !== '' && !isMarker(n) && match(n));
  if (found.length === 0) throw noFiles(spec);
  return found.sort(naturalCompare).map((n) => `s3://${bucket}/${prefix}${n}`);
}

/** Spark's `_SUCCESS`, Hadoop's `.part-0.crc`: not data. */
function isMarker(name: string): boolean {
  return name.startsWith('_') || name.startsWith('.');
}

function noFiles(spec: string): AtomicBulkError {
  return new AtomicBulkError('INPUT', `Input ${printable(spec)} matches no files.`, {
    hint: 'Check the path or prefix; names starting with _ or . are markers and are not read.',
  });
}

/** A matcher for one name: `*` any run, `?` one character, `[abc]`/`[!a-z]` one of a set. */
export function globMatcher(pattern: string): (name: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, close);
      const negate = set.startsWith('!') || set.startsWith('^');
      if (negate) set = set.slice(1);
      source += `[${negate ? '^' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  const re = new RegExp(`^${source}$`, 's');
  const hidden = pattern.startsWith('.');
  return (name) => (hidden || !name.startsWith('.')) && re.test(name);
}

/** Names in shard order: runs of digits compared by value, then code units. */
export function naturalCompare(a: string, b: string): number {
  const runs = (s: string) => s.match(/\d+|\D+/g) ?? [];
  const x = runs(a);
  const y = runs(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i] as string;
    const q = y[i] as string;
    if (p === q) continue;
    const digits = /^\d/.test(p) && /^\d/.test(q);
    if (digits) {
      const pv = p.replace(/^0+(?=\d)/, '');
      const qv = q.replace(/^0+(?=\d)/, '');
      if (pv.length !== qv.length) return pv.length - qv.length;
      if (pv !== qv) return pv < qv ? -1 : 1;
      continue;
    }
    return p < q ? -1 : 1;
  }
  if (x.length !== y.length) return x.length - y.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
