import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { BatchGetCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { KeyPatch } from '../admin-types.ts';
import { generateKey, hashKey, keyHint } from '../secrets.ts';
import { StoreError, usdToMicros } from '../types.ts';
import type { KeyRecord, KeyStore, NewKey } from '../types.ts';
import { isConditionFailed } from './client.ts';
import type { Dynamo } from './client.ts';
import { META_PK, NAMES_PK, counted, hashPk, keyPk, toKeyRecord } from './key-items.ts';
import type { KeyItem } from './key-items.ts';

/** The name is someone else's already (possibly still being written). */
class NameTaken extends StoreError {}

/** A name claimed this long ago without its key item is left from a create that died. */
const ABANDONED_CREATE_MS = 60_000;
/** Fields of the ledger, which rewrite() keeps consistent itself. */
const LEDGER_FIELDS = new Set(['quota', 'used', 'avail', 'h', 'lv', 'pk', 'sk', 'id']);
/** Read-then-write paths give up after this many lost races (each one a hold or settle that won). */
const MAX_REWRITES = 50;

/**
 * Keys on DynamoDB. Without transactions (dynalite, the test double, has none), a new key is
 * written in an order that keeps names and secrets unique: the name item and the hash item are
 * each put only if absent, then the key item; a reader that finds a name without its key item
 * sees no key. A create that died halfway leaves a name item without a key, which the next
 * create of that name takes over.
 */
export class DynamoKeyStore implements KeyStore {
  readonly #d: Dynamo;

  constructor(dynamo: Dynamo) {
    this.#d = dynamo;
  }

  get #table(): string {
    return this.#d.tables.keys;
  }

  async item(id: number): Promise<KeyItem | null> {
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: keyPk(id), sk: 'key' },
        ConsistentRead: true,
      }),
    );
    return (out.Item as KeyItem | undefined) ?? null;
  }

  async #idOfName(name: string): Promise<number | null> {
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: NAMES_PK, sk: name },
        ConsistentRead: true,
      }),
    );
    return (out.Item?.id as number | undefined) ?? null;
  }

  async #itemByName(name: string): Promise<KeyItem | null> {
    const id = await this.#idOfName(name);
    return id === null ? null : this.item(id);
  }

  async #mustItem(name: string): Promise<KeyItem> {
    const item = await this.#itemByName(name);
    if (!item) throw new StoreError(`no key named "${name}"`);
    return item;
  }

  #record(item: KeyItem): KeyRecord {
    return toKeyRecord(item, this.#d.now());
  }

  async findBySecret(secret: string): Promise<KeyRecord | null> {
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: hashPk(hashKey(secret)), sk: 'hash' },
        ConsistentRead: true,
      }),
    );
    const id = out.Item?.id as number | undefined;
    if (id === undefined) return null;
    const item = await this.item(id);
    return item ? this.#record(item) : null;
  }

  async get(name: string): Promise<KeyRecord | null> {
    const item = await this.#itemByName(name);
    return item ? this.#record(item) : null;
  }

  /** Every key item, by name. */
  async items(): Promise<KeyItem[]> {
    const ids: number[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.#d.doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': NAMES_PK },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const row of page.Items ?? []) ids.push(row.id as number);
      start = page.LastEvaluatedKey;
    } while (start);
    const items: KeyItem[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Record<string, unknown>[] | undefined = ids
        .slice(i, i + 100)
        .map((id) => ({ pk: keyPk(id), sk: 'key' }));
      while (keys && keys.length > 0) {
        const out: BatchGetCommandOutput = await this.#d.doc.send(
          new BatchGetCommand({
            RequestItems: { [this.#table]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        items.push(...((out.Responses?.[this.#table] ?? []) as KeyItem[]));
        keys = out.UnprocessedKeys?.[this.#table]?.Keys;
      }
    }
    return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async list(): Promise<KeyRecord[]> {
    return (await this.items()).map((i) => this.#record(i));
  }

  async version(): Promise<number> {
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: META_PK, sk: 'keysVersion' },
        ConsistentRead: true,
      }),
    );
    return (out.Item?.n as number | undefined) ?? 0;
  }

  async bumpVersion(): Promise<void> {
    // Any change is enough for the caches: a retried ADD that counts twice does no harm.
    await this.#d.doc.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: META_PK, sk: 'keysVersion' },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': 1 },
      }),
    );
  }

  async #nextId(): Promise<number> {
    const out = await this.#d.doc.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: META_PK, sk: 'nextKeyId' },
        UpdateExpression: 'ADD n :one',
        ExpressionAttributeValues: { ':one': 1 },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return out.Attributes!.n as number;
  }

  /** Claims `hash` for key `id`; false when another key already has that secret. */
  async claimHash(hash: string, id: number): Promise<boolean> {
    try {
      await this.#d.doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: { pk: hashPk(hash), sk: 'hash', id },
          ConditionExpression: 'attribute_not_exists(pk) OR id = :id',
          ExpressionAttributeValues: { ':id': id },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  async clashMessage(name: string, hash: string): Promise<StoreError> {
    const out = await this.#d.doc.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: hashPk(hash), sk: 'hash' },
        ConsistentRead: true,
      }),
    );
    const other = out.Item ? await this.item(out.Item.id as number) : null;
    return new StoreError(
      `key "${name}" has the same secret as key "${other?.name ?? '(another key)'}"`,
    );
  }

  /** A new key from its secret's hash and hint (import passes them; the secret is not known). */
  async insert(
    key: NewKey,
    secret: { readonly hash: string; readonly hint: string },
  ): Promise<KeyItem> {
    const id = await this.#nextId();
    const { hash } = secret;
    try {
      await this.#d.doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: { pk: NAMES_PK, sk: key.name, id, at: this.#d.now() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      const taken = await this.#d.doc.send(
        new GetCommand({
          TableName: this.#table,
          Key: { pk: NAMES_PK, sk: key.name },
          ConsistentRead: true,
        }),
      );
      const name = taken.Item as { id: number; at?: number } | undefined;
      // A name whose key item exists is taken, and so is one another create is still writing;
      // one left long ago by a create that died is not.
      if (
        !name ||
        (await this.item(name.id)) ||
        this.#d.now() - (name.at ?? 0) < ABANDONED_CREATE_MS
      )
        throw new NameTaken(`a key named "${key.name}" already exists`);
      await this.#d.doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: { pk: NAMES_PK, sk: key.name, id, at: this.#d.now() },
          ConditionExpression: 'id = :old',
          ExpressionAttributeValues: { ':old': name.id },
        }),
      );
    }
    if (!(await this.claimHash(hash, id))) {
      const clash = await this.clashMessage(key.name, hash);
      await this.#d.doc.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: NAMES_PK, sk: key.name },
          ConditionExpression: 'id = :id',
          ExpressionAttributeValues: { ':id': id },
        }),
      );
      throw clash;
    }
    const quota = key.quotaUsd == null ? undefined : usdToMicros(key.quotaUsd);
    const item: KeyItem = {
      pk: keyPk(id),
      sk: 'key',
      id,
      name: key.name,
      hash,
      hint: secret.hint,
      ...(quota !== undefined && { quota }),
      used: 0,
      avail: quota ?? 0,
      h: {},
      lv: 0,
      models: key.models ?? ['*'],
      ...(key.expiresAt != null && { keyExpiresAt: key.expiresAt }),
      ...(key.rpm != null && { rpm: key.rpm }),
      ...(key.tpm != null && { tpm: key.tpm }),
      enabled: key.enabled !== false,
      disabledByAdmin: false,
      createdAt: this.#d.now(),
    };
    await this.#d.doc.send(new PutCommand({ TableName: this.#table, Item: item }));
    await this.bumpVersion();
    return item;
  }

  /**
   * Changes a key's settings with one UpdateItem that leaves its ledger alone, so a busy key's
   * holds and settlements never make an edit retry. A quota change moves `avail` by the same
   * amount (`ADD`), conditioned on the quota read; only what needs the whole ledger state (a
   * quota on an unlimited key, or `used` set by an import) is written if nothing moved since the
   * read (`lv`), else read and tried again.
   */
  async rewrite(
    id: number,
    change: (item: KeyItem) => Partial<KeyItem>,
    op: string,
  ): Promise<KeyItem> {
    for (let attempt = 0; attempt < MAX_REWRITES; attempt++) {
      const item = await this.item(id);
      if (!item) throw new StoreError('the key was deleted meanwhile');
      const patch = change(item);
      const sets: string[] = [];
      const removes: string[] = [];
      const adds = ['lv :one'];
      const conditions = ['attribute_exists(pk)'];
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = { ':one': 1 };
      Object.entries(patch).forEach(([field, value], i) => {
        if (LEDGER_FIELDS.has(field)) return;
        names[`#f${i}`] = field;
        if (value === undefined) removes.push(`#f${i}`);
        else {
          sets.push(`#f${i} = :f${i}`);
          values[`:f${i}`] = value;
        }
      });
      const quota = 'quota' in patch ? patch.quota : item.quota;
      const used = patch.used ?? item.used;
      if (used !== item.used || (item.quota === undefined && quota !== undefined)) {
        sets.push('used = :used', 'avail = :avail');
        values[':used'] = used;
        values[':avail'] = quota === undefined ? 0 : quota - used - counted(item);
        conditions.push('lv = :lv');
        values[':lv'] = item.lv;
      }
      if (quota !== item.quota) {
        if (quota === undefined) removes.push('quota');
        else sets.push('quota = :quota');
        if (quota !== undefined) values[':quota'] = quota;
        if (item.quota !== undefined) {
          conditions.push('quota = :was');
          values[':was'] = item.quota;
          if (quota !== undefined && !(':avail' in values)) {
            adds.push('avail :delta');
            values[':delta'] = quota - item.quota;
          }
        }
      }
      try {
        const out = await this.#d.doc.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { pk: keyPk(id), sk: 'key' },
            UpdateExpression: [
              sets.length > 0 ? `SET ${sets.join(', ')}` : '',
              removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
              `ADD ${adds.join(', ')}`,
            ].join(' '),
            ConditionExpression: conditions.join(' AND '),
            ...(Object.keys(names).length > 0 && { ExpressionAttributeNames: names }),
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        return out.Attributes as KeyItem;
      } catch (err) {
        if (!isConditionFailed(err)) throw err;
        this.#d.emit({ kind: 'ledger-conflict', keyId: id, op });
      }
    }
    throw new StoreError(`key ${id} is changing too fast to ${op}; try again`);
  }

  async upsertFromConfig(key: NewKey & { readonly key: string }): Promise<KeyRecord> {
    const existing = await this.#itemByName(key.name);
    if (!existing) {
      try {
        return this.#record(
          await this.insert(key, { hash: hashKey(key.key), hint: keyHint(key.key) }),
        );
      } catch (err) {
        if (!(err instanceof NameTaken)) throw err;
        // Another process starting from the same config file is creating it: wait for its
        // key item, then update that.
        for (let i = 0; i < 100; i++) {
          if (await this.#itemByName(key.name)) return this.upsertFromConfig(key);
          await new Promise((r) => setTimeout(r, 20));
        }
        throw err;
      }
    }
    const hash = hashKey(key.key);
    if (hash !== existing.hash && !(await this.claimHash(hash, existing.id)))
      throw await this.clashMessage(key.name, hash);
    const item = await this.rewrite(
      existing.id,
      (item) => ({
        hash,
        hint: keyHint(key.key),
        quota: key.quotaUsd == null ? undefined : usdToMicros(key.quotaUsd),
        models: key.models ?? ['*'],
        keyExpiresAt: key.expiresAt ?? undefined,
        rpm: key.rpm ?? undefined,
        tpm: key.tpm ?? undefined,
        enabled: key.enabled !== false && !item.disabledByAdmin,
      }),
      'upsert',
    );
    if (hash !== existing.hash) await this.dropHash(existing.hash, existing.id);
    await this.bumpVersion();
    return this.#record(item);
  }

  async dropHash(hash: string, id: number): Promise<void> {
    try {
      await this.#d.doc.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: hashPk(hash), sk: 'hash' },
          ConditionExpression: 'id = :id',
          ExpressionAttributeValues: { ':id': id },
        }),
      );
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
  }

  async create(key: NewKey): Promise<{ record: KeyRecord; secret: string }> {
    if (await this.#itemByName(key.name))
      throw new StoreError(`a key named "${key.name}" already exists`);
    const secret = generateKey();
    return {
      record: this.#record(
        await this.insert(key, { hash: hashKey(secret), hint: keyHint(secret) }),
      ),
      secret,
    };
  }

  async update(name: string, patch: KeyPatch): Promise<KeyRecord> {
    const { id } = await this.#mustItem(name);
    const item = await this.rewrite(
      id,
      () => ({
        ...(patch.quotaUsd !== undefined && {
          quota: patch.quotaUsd === null ? undefined : usdToMicros(patch.quotaUsd),
        }),
        ...(patch.models !== undefined && { models: patch.models }),
        ...(patch.expiresAt !== undefined && { keyExpiresAt: patch.expiresAt ?? undefined }),
        ...(patch.rpm !== undefined && { rpm: patch.rpm ?? undefined }),
        ...(patch.tpm !== undefined && { tpm: patch.tpm ?? undefined }),
        ...(patch.enabled !== undefined && {
          enabled: patch.enabled,
          disabledByAdmin: !patch.enabled,
        }),
      }),
      'update',
    );
    await this.bumpVersion();
    return this.#record(item);
  }

  async topUp(name: string, usd: number): Promise<KeyRecord> {
    if (!Number.isFinite(usd) || usd <= 0)
      throw new StoreError('top-up amount must be a positive number of USD');
    const { id } = await this.#mustItem(name);
    const micros = usdToMicros(usd);
    // One atomic ADD: quota and avail move together, whatever holds come and go meanwhile.
    try {
      await this.#d.doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: keyPk(id), sk: 'key' },
          UpdateExpression: 'ADD quota :m, avail :m, lv :one',
          ConditionExpression: 'attribute_exists(quota)',
          ExpressionAttributeValues: { ':m': micros, ':one': 1 },
        }),
      );
    } catch (err) {
      if (isConditionFailed(err))
        throw new StoreError(`key "${name}" is unlimited; there is nothing to top up`);
      throw err;
    }
    await this.bumpVersion();
    return (await this.get(name))!;
  }

  setEnabled(name: string, enabled: boolean): Promise<KeyRecord> {
    return this.update(name, { enabled });
  }

  async delete(name: string): Promise<void> {
    const item = await this.#mustItem(name);
    await this.#d.doc.send(
      new DeleteCommand({ TableName: this.#table, Key: { pk: keyPk(item.id), sk: 'key' } }),
    );
    await this.dropHash(item.hash, item.id);
    await this.#d.doc.send(
      new DeleteCommand({ TableName: this.#table, Key: { pk: NAMES_PK, sk: name } }),
    );
    await this.bumpVersion();
  }
}
