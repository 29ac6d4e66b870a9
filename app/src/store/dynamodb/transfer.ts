import { addDays } from '../../usage/days.ts';
import type {
  Change,
  StoreTransfer,
  TransferKey,
  TransferRollup,
  TransferRow,
} from '../transfer.ts';
import { StoreError } from '../types.ts';
import type { DynamoStore } from './store.ts';
import type { KeyItem } from './key-items.ts';

const DAY_MS = 86_400_000;

const toTransferKey = (k: KeyItem): TransferKey => ({
  name: k.name,
  hash: k.hash,
  hint: k.hint,
  quotaMicros: k.quota ?? null,
  usedMicros: k.used,
  models: [...k.models],
  expiresAt: k.keyExpiresAt ?? null,
  rpm: k.rpm ?? null,
  tpm: k.tpm ?? null,
  enabled: k.enabled,
  disabledByAdmin: k.disabledByAdmin,
  createdAt: k.createdAt,
});

const same = (a: TransferKey, b: TransferKey) => JSON.stringify(a) === JSON.stringify(b);

/** The DynamoDB store's side of `keys export` / `keys import` (see transfer.ts). */
export function dynamoTransfer(store: DynamoStore, timeZone: string): StoreTransfer {
  const ids = new Map<string, number | null>();
  const idOf = async (name: string | null): Promise<number | null> => {
    if (name === null) return null;
    if (!ids.has(name)) ids.set(name, (await store.keys.get(name))?.id ?? null);
    return ids.get(name)!;
  };
  return {
    timeZone,
    async exportKeys() {
      return (await store.keys.items()).map(toTransferKey);
    },
    async *exportRollups() {
      const first = await store.usage.firstDay();
      if (first === null) return;
      const end = addDays(store.usage.calendar.dayOf(Date.now()), 2);
      for (let day = first; day < end; day = addDays(day, 30)) {
        const rows = await store.usage.rollups(
          day,
          addDays(day, 30) < end ? addDays(day, 30) : end,
        );
        yield rows.map((r): TransferRollup => ({
          day: r.day,
          keyName: r.keyName,
          model: r.model,
          channel: r.channel,
          sums: r.sums,
        }));
      }
    },
    exportRows() {
      return store.usage.rawRows(0, Date.now() + DAY_MS);
    },
    async importKey(k, dryRun): Promise<Change> {
      const existing = await store.keys.get(k.name);
      const item = existing ? await store.keys.item(existing.id) : null;
      if (item && same(toTransferKey(item), k)) return 'unchanged';
      if (dryRun) return item ? 'updated' : 'created';
      const target =
        item ?? (await store.keys.insert({ name: k.name }, { hash: k.hash, hint: k.hint }));
      if (item && item.hash !== k.hash && !(await store.keys.claimHash(k.hash, item.id)))
        throw await store.keys.clashMessage(k.name, k.hash);
      await store.keys.rewrite(
        target.id,
        () => ({
          hash: k.hash,
          hint: k.hint,
          quota: k.quotaMicros ?? undefined,
          used: k.usedMicros,
          models: k.models,
          keyExpiresAt: k.expiresAt ?? undefined,
          rpm: k.rpm ?? undefined,
          tpm: k.tpm ?? undefined,
          enabled: k.enabled,
          disabledByAdmin: k.disabledByAdmin,
          createdAt: k.createdAt,
        }),
        'import',
      );
      if (item && item.hash !== k.hash) await store.keys.dropHash(item.hash, item.id);
      await store.keys.bumpVersion();
      ids.delete(k.name);
      return item ? 'updated' : 'created';
    },
    importRollup(r, dryRun) {
      return store.usage.setRollup(r, dryRun);
    },
    async importRows(rows: readonly TransferRow[], dryRun) {
      let created = 0;
      for (const { createdAt, ...row } of rows) {
        if (!Number.isFinite(createdAt)) throw new StoreError('a usage row without a time');
        const keyId = await idOf(row.keyName);
        if (await store.usage.importRow({ ...row, keyId }, createdAt, dryRun)) created++;
      }
      return created;
    },
    close: () => store.close(),
  };
}
