/**
 * Which pages the relay's commits write, by table and index: `node bench/wal-frames.ts
 * <strace log> <relay.db>` (not part of `npm test`; bench/README.md, Profiling, says how to get
 * the log). The checkpoint worker starts the WAL over every ~500 ms, so its frames cannot be
 * read from the file afterwards: they are read from the `pwrite64` calls that wrote them. A WAL
 * frame is two writes, a 24-byte header (its page number, then the database's size in pages on
 * a transaction's last frame, 0 on the others) and the page. Page numbers are mapped to their
 * B-tree with SQLite's `dbstat` table, on the database as the run left it.
 */
import { readFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';

/**
 * `pid pwrite64(fd, "<24 escaped bytes>", 24, offset) = 24`, as `strace -f -o` writes it (no
 * -x, -y or -t), or the same call cut short by another thread's (`<unfinished ...>`, its result
 * on a later line): the arguments are all there when it starts.
 */
const HEADER_WRITE =
  /^(\d+) +pwrite64\(\d+, "((?:[^"\\]|\\.)*)", 24, (\d+)(?:\) = 24| <unfinished \.\.\.>)$/;

/** A WAL file's own header, before its first frame. */
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

/** The escapes strace writes by letter; any other escaped character stands for itself. */
const NAMED: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, a: 7, b: 8 };

/** strace's C escapes (`\0`, `\n`, `\t`, `\33`, `\\`, `\"`) back to bytes. */
function unescapeC(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') {
      bytes.push(ch.charCodeAt(0));
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1));
    if (octal) {
      bytes.push(parseInt(octal[0], 8));
      i += octal[0].length;
    } else {
      const next = text[++i]!;
      bytes.push(NAMED[next] ?? next.charCodeAt(0));
    }
  }
  return Buffer.from(bytes);
}

const [logFile, dbFile] = process.argv.slice(2);
if (!logFile || !dbFile) {
  console.error('usage: node bench/wal-frames.ts <strace log> <relay.db>');
  process.exit(2);
}

const db = new DatabaseSync(dbFile, { readOnly: true });
const { page_size: pageSize } = db.prepare('PRAGMA page_size').get() as { page_size: number };
// Frames by the thread that wrote them: the relay's commits are the main thread's, the
// checkpoint worker's own write (page 1 after a full checkpoint) another thread's.
const frames = new Map<string, { page: number; commit: boolean }[]>();
for (const line of readFileSync(logFile, 'utf8').split('\n')) {
  const m = HEADER_WRITE.exec(line);
  if (!m) continue;
  // Only where a frame header sits in a WAL: any other 24-byte write is not one.
  const offset = Number(m[3]) - WAL_HEADER_BYTES;
  if (offset < 0 || offset % (FRAME_HEADER_BYTES + pageSize) !== 0) continue;
  const header = unescapeC(m[2]!);
  if (header.length !== FRAME_HEADER_BYTES) continue;
  const list = frames.get(m[1]!) ?? [];
  list.push({ page: header.readUInt32BE(0), commit: header.readUInt32BE(4) !== 0 });
  frames.set(m[1]!, list);
}
const [thread, written] = [...frames].sort((a, b) => b[1].length - a[1].length)[0] ?? [];
if (!written) {
  console.error(
    `no WAL frame headers in ${logFile} (written by strace -f -o, without -x, -y or -t?)`,
  );
  process.exit(1);
}

const treeOf = new Map<number, string>();
for (const row of db.prepare('SELECT name, pageno, pagetype FROM dbstat').all()) {
  // Overflow pages (a value too long for its leaf) count with the leaves.
  const kind = row.pagetype === 'internal' ? 'interior' : 'leaf';
  treeOf.set(Number(row.pageno), `${String(row.name)} (${kind})`);
}
// Page 1 holds the file's header too, whose size in pages a commit that grows the file moves.
treeOf.set(1, 'page 1 (the file header, and sqlite_schema)');
db.close();

const commits = Math.max(1, written.filter((f) => f.commit).length);
const byTree = new Map<string, number>();
for (const f of written) {
  const tree = treeOf.get(f.page) ?? `page ${f.page} (not in the file now)`;
  byTree.set(tree, (byTree.get(tree) ?? 0) + 1);
}
console.log(
  `thread ${thread}: ${written.length} frames in ${commits} commits, ` +
    `${(written.length / commits).toFixed(2)} a commit`,
);
for (const [tree, n] of [...byTree].sort((a, b) => b[1] - a[1])) {
  if (n / commits >= 0.01) console.log(`${(n / commits).toFixed(2).padStart(7)}  ${tree}`);
}
