/**
 * Files the tool writes hold personal data (campaign rows, ids, reports), so they are
 * private whatever the umask: folders 0700, files 0600. Temporary files get random names
 * and are opened exclusively, never through a link someone placed at a predictable name.
 * A lock file holding the PID keeps two processes off the same folder; a lock left by a
 * process that is gone is taken over.
 */
import { randomBytes } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
} from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (and missing parents) private; returns true when it did not exist. Each
 * missing folder is made by a plain mkdir, one at a time from the nearest existing parent:
 * a recursive mkdir can spin on file systems like /proc (and reports a read-only file
 * system as ENOENT), where this fails at once with the real cause.
 */
export async function makePrivateDir(dir: string): Promise<boolean> {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    const info = await stat(at).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    });
    if (info !== null) {
      if (!info.isDirectory())
        throw Object.assign(new Error(`${at} is not a folder`), { code: 'ENOTDIR' });
      break;
    }
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  for (const folder of missing) {
    await mkdir(folder, { mode: PRIVATE_DIR_MODE }).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    await chmod(folder, PRIVATE_DIR_MODE);
  }
  return missing.length > 0;
}

/** Writes `path` atomically: a private temporary file, flushed (if asked), then renamed. */
export async function writePrivateFile(
  path: string,
  content: string,
  options: { sync?: boolean } = {},
): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(content);
      if (options.sync === true) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** The PID holding a lock, or null when the lock was taken. */
export type LockHolder = number;

/**
 * Locks this process holds. They are removed when it exits by any path (an error thrown
 * between taking and releasing one included), so a later process whose PID happens to
 * match the stale one is never refused.
 */
const held = new Set<string>();
let exitHook = false;

function holdUntilExit(path: string): void {
  held.add(path);
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const lock of held) rmSync(lock, { force: true });
  });
}

/**
 * Takes `dir/name` for this process. Returns null on success, or the PID of a live
 * process that holds it. A lock whose process is gone is taken over.
 */
export async function takePidLock(dir: string, name: string): Promise<LockHolder | null> {
  const path = join(dir, name);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx', PRIVATE_FILE_MODE);
      await handle.writeFile(String(process.pid));
      await handle.close();
      holdUntilExit(path);
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(await readFile(path, 'utf8').catch(() => ''));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) return pid;
      await rm(path, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${path}`);
}

export async function releasePidLock(dir: string, name: string): Promise<void> {
  const path = join(dir, name);
  held.delete(path);
  await rm(path, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Temporary folders of this tool start with this, so a sweep never touches another's. */
export const TEMP_PREFIX = 'atomic-bulk-';
const OWNER_FILE = '.owner';

/**
 * A private temporary folder (0700) marked with this process's PID, so that if the
 * process is killed, a later run finds it and removes it (`sweepOrphans`): these folders
 * hold personal data (cut parts, spooled input, copies of id lists).
 */
export async function makeOwnedTempDir(kind: string, parent = tmpdir()): Promise<string> {
  const dir = await mkdtemp(join(parent, `${TEMP_PREFIX}${kind}-`));
  await chmod(dir, PRIVATE_DIR_MODE);
  await takePidLock(dir, OWNER_FILE);
  return dir;
}

/** Removes a folder made by `makeOwnedTempDir` (and its owner mark). */
export async function removeOwnedTempDir(dir: string): Promise<void> {
  await releasePidLock(dir, OWNER_FILE);
  await rm(dir, { recursive: true, force: true });
}

/**
 * Removes temporary folders of killed atomic-bulk processes: only folders named like
 * ours, owned by this user, holding an owner mark whose process is gone. A folder without
 * the mark (just being created) or whose owner lives is left alone. Returns how many.
 */
export async function sweepOrphans(parent = tmpdir()): Promise<number> {
  const uid = process.getuid?.();
  let removed = 0;
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const dir = join(parent, name);
    const info = await lstat(dir).catch(() => null);
    if (info === null || !info.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
    const pid = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => ''));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    await rm(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
