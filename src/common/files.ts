/**
 * Files that hold secrets (the master key, the database and its -wal and -shm) are ours alone.
 * In a shared directory (TENEX_DB=/tmp/x.db puts master.key in /tmp) another user could create
 * them first and have this server use a key they know, or a database they wrote. So such files
 * are created exclusively (O_EXCL, owner-only), and an existing one is used only when the
 * current user owns it and nobody else may write it.
 */
import fs from "node:fs";

export interface FileTrust {
  /**
   * Accept a group-writable file (TENEX_ALLOW_GROUP_WRITABLE=1): for volumes shared with a
   * group on purpose. World-writable files and other users' files are refused regardless.
   */
  allowGroupWritable: boolean;
}

/** Create `file` owner-only if it does not exist (never through an existing file or link). True when this call created it. */
export function createExclusive(file: string, mode = 0o600): boolean {
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, mode));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Why this server may not use a file with these owner and mode bits (and whether only the group bit is in the way), or null when it may. */
export function untrustedBecause(
  st: Pick<fs.Stats, "uid" | "mode">,
  trust: FileTrust,
  uid = process.getuid?.(),
): { why: string; group: boolean } | null {
  if (uid !== undefined && st.uid !== uid)
    return { why: `it is owned by another user (uid ${st.uid}; this server runs as uid ${uid})`, group: false };
  const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
  if (st.mode & 0o002) return { why: `anyone on this machine may write it (mode ${mode})`, group: false };
  if (st.mode & 0o020 && !trust.allowGroupWritable) return { why: `its group may write it (mode ${mode})`, group: true };
  return null;
}

/**
 * Open an existing file and check it (on the open descriptor, so it cannot be swapped between
 * check and use). Returns the descriptor, which the caller closes, or null when the file does not
 * exist. Throws an Error naming the file and what to do when it may not be used.
 */
export function openTrusted(file: string, what: string, trust: FileTrust): number | null {
  let fd: number;
  try {
    // A link another user planted (even a dangling one) would have our file written where they choose.
    const link = fs.lstatSync(file);
    const uid = process.getuid?.();
    if (link.isSymbolicLink() && uid !== undefined && link.uid !== uid) {
      return refuse(file, what, { why: `it is a symbolic link owned by another user (uid ${link.uid})`, group: false });
    }
    fd = fs.openSync(file, fs.constants.O_RDONLY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const refusal = untrustedBecause(fs.fstatSync(fd), trust);
  if (refusal === null) return fd;
  fs.closeSync(fd);
  return refuse(file, what, refusal);
}

function refuse(file: string, what: string, refusal: { why: string; group: boolean }): never {
  const fix = refusal.group
    ? `Remove group write access (chmod g-w ${file}); or, on a volume shared with a group on purpose, set TENEX_ALLOW_GROUP_WRITABLE=1.`
    : `Someone else may have planted it. Move it out of the way, check how it got there, and keep the server's files in a directory only this user can write (set TENEX_DB, and TENEX_MASTER_KEY if needed).`;
  throw new Error(`Refusing to use the ${what} ${file}: ${refusal.why}. ${fix}`);
}

/** Check an existing file (see openTrusted) without keeping it open. */
export function assertTrusted(file: string, what: string, trust: FileTrust): void {
  const fd = openTrusted(file, what, trust);
  if (fd !== null) fs.closeSync(fd);
}
