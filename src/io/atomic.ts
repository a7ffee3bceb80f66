/** Atomic file writes: a reader sees the old file or the new one, never a torn one, even if the writer is killed. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Whether a process with this pid is alive (signal 0 tests for it; EPERM: alive, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temporary files of earlier writes of `name` whose writer was killed (its pid is not alive). */
async function removeStaleTemporaries(directory: string, name: string): Promise<void> {
  const pattern = new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.[0-9a-f]{12}\\.tmp$`);
  const entries = await readdir(directory).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = pattern.exec(entry)?.[1];
    if (pid !== undefined && Number(pid) !== process.pid && !processAlive(Number(pid))) await rm(join(directory, entry), { force: true });
  }
}

/**
 * Writes `chunks` to `path` atomically: into a temporary file beside it (same directory, so the rename stays on
 * one file system), fsynced, then renamed over `path`; the directory is fsynced where the platform allows.
 * On any failure the temporary file is removed and `path` is left as it was; the temporary files a killed
 * writer left beside `path` are removed by the next write.
 */
export async function writeFileAtomic(path: string, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
  const directory = dirname(path);
  await removeStaleTemporaries(directory, basename(path));
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, 'wx');
    for await (const chunk of chunks) {
      for (let written = 0; written < chunk.length; ) {
        written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new Error(
      `Error in writeFileAtomic: could not write '${path}' (${(error as Error).message}); the file there, if any, is unchanged.`,
      { cause: error },
    );
  }
  try {
    const dir = await open(directory, 'r');
    await dir.sync().finally(() => dir.close());
  } catch {
    // Directories cannot be opened or fsynced on some platforms (Windows); the rename itself has succeeded.
  }
}

/**
 * Makes the directory `dir` (and its missing parents, one level at a time) and checks that a file can be
 * written in it: a run calls this before any work, so a bad --out fails at once with its name, not after the
 * training (and a path where a recursive mkdir would loop, as under /proc, fails instead of hanging).
 * @throws naming `what`, the path and the reason
 */
export function ensureWritableDir(dir: string, what = 'the output directory'): void {
  const target = resolve(dir);
  const missing: string[] = [];
  let existing = target;
  while (!existsSync(existing)) {
    missing.unshift(existing);
    const parent = dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  const fail = (why: string): never => {
    throw new Error(`Error in ensureWritableDir: ${what} '${dir}' cannot be used: ${why}.`);
  };
  if (existsSync(existing) && !statSync(existing).isDirectory()) fail(`'${existing}' is a file, not a directory`);
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      fail(`creating '${level}' failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const probe = join(target, `.write-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(probe, '');
  } catch (err) {
    fail(`no file can be written in it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  rmSync(probe, { force: true });
}
