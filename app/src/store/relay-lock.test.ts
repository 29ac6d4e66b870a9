import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RelayLock } from './relay-lock.ts';

// SQLite's locks conflict between connections of one process as between processes, so each
// RelayLock here stands for one relay process on the file.
describe('the relay lock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-lock-'));
  const path = join(dir, 'relay.db.lock');
  const opened: RelayLock[] = [];
  const relay = () => {
    const lock = new RelayLock(path);
    opened.push(lock);
    return lock;
  };
  afterEach(() => {
    for (const lock of opened.splice(0)) lock.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lets one relay be sole, and then no other relay sole or shared', () => {
    const first = relay();
    expect(first.trySole()).toBe(true);
    const second = relay();
    expect(second.trySole()).toBe(false);
    expect(second.tryShared()).toBe(false);
    expect(second.mode).toBe('none');
  });

  it('lets any number share, and no relay be sole beside them', () => {
    const [a, b, c] = [relay(), relay(), relay()];
    expect(a.tryShared()).toBe(true);
    expect(b.trySole()).toBe(false);
    expect(b.tryShared()).toBe(true);
    expect(c.trySole()).toBe(false);
    expect([a.mode, b.mode, c.mode]).toEqual(['shared', 'shared', 'none']);
  });

  it('steps down from sole to shared without ever letting a third relay be sole', () => {
    const owner = relay();
    owner.trySole();
    const waiting = relay();
    expect(waiting.tryShared()).toBe(false);
    owner.downgrade();
    expect(owner.mode).toBe('shared');
    expect(relay().trySole()).toBe(false);
    expect(waiting.tryShared()).toBe(true);
  });

  it('is free again once its holder closes (the OS does the same when a process dies)', () => {
    const owner = relay();
    owner.trySole();
    owner.close();
    const next = relay();
    expect(next.trySole()).toBe(true);
  });

  it('tells when its file is deleted or replaced, and reopens the one the path names', () => {
    const owner = relay();
    owner.trySole();
    expect(owner.moved()).toBe(false);
    rmSync(path);
    expect(owner.moved()).toBe(true);
    // The mistake it guards against: a relay starting now is sole on a new file.
    const next = relay();
    expect(next.trySole()).toBe(true);
    owner.reopen();
    expect([owner.moved(), owner.mode]).toEqual([false, 'none']);
    expect(owner.tryShared()).toBe(false);
    next.close();
    writeFileSync(`${path}.new`, '');
    renameSync(`${path}.new`, path);
    expect(owner.moved()).toBe(true);
  });
});
