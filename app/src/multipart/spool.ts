import { randomUUID } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import busboy from 'busboy';
import { FormData } from 'undici';
import { RelayError, invalidRequest } from '../errors.ts';

export interface SpooledFile {
  readonly field: string;
  readonly filename: string;
  readonly mimeType: string;
  readonly path: string;
  readonly size: number;
}

export interface SpooledForm {
  readonly fields: ReadonlyMap<string, string[]>;
  readonly files: readonly SpooledFile[];
  /**
   * A fresh multipart body for one upstream attempt; files stream from disk, never whole into
   * memory. undici's own FormData, because its fetch only recognises its own class.
   */
  toFormData(overrides: Readonly<Record<string, string>>): Promise<FormData>;
  cleanup(): Promise<void>;
}

const MAX_FIELDS = 64;
const MAX_FIELD_BYTES = 1024 * 1024;
const MAX_FILES = 16;

/**
 * Streams a multipart upload to a temporary folder. The model is a field that SDKs often put
 * after the file, so routing has to wait for the whole form; spooling to disk keeps memory flat
 * and lets a failed attempt be retried on another channel with the same bytes.
 */
export async function spoolMultipart(
  request: Request,
  tmpRoot: string,
  maxBytes: number,
): Promise<SpooledForm> {
  const contentType = request.headers.get('content-type') ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    throw new RelayError(
      415,
      'unsupported_media_type',
      "Expected 'Content-Type: multipart/form-data'.",
    );
  }
  if (!request.body) throw invalidRequest('The multipart body is empty.');
  const dir = join(tmpRoot, randomUUID());
  await mkdir(dir, { recursive: true });
  const fields = new Map<string, string[]>();
  const files: SpooledFile[] = [];
  const cleanup = () => rm(dir, { recursive: true, force: true });

  try {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: { 'content-type': contentType },
        limits: {
          fields: MAX_FIELDS,
          fieldSize: MAX_FIELD_BYTES,
          files: MAX_FILES,
          fileSize: maxBytes,
        },
      });
    } catch (err) {
      throw invalidRequest(`Malformed multipart body: ${(err as Error).message}.`);
    }
    const writes: Promise<void>[] = [];
    let tooLarge = false;
    bb.on('field', (name, value) => {
      const list = fields.get(name) ?? [];
      list.push(value);
      fields.set(name, list);
    });
    bb.on('file', (field, stream, info) => {
      const path = join(dir, `${files.length}`);
      const file = {
        field,
        filename: info.filename || 'upload',
        mimeType: info.mimeType,
        path,
        size: 0,
      };
      stream.on('data', (chunk: Buffer) => (file.size += chunk.length));
      stream.on('limit', () => (tooLarge = true));
      files.push(file);
      const write = pipeline(stream, createWriteStream(path));
      // Awaited below, but only once the whole form is read: a form that breaks off mid-file
      // (truncated body, client gone) fails this first, and an unhandled rejection kills the relay.
      write.catch(() => undefined);
      writes.push(write);
    });
    try {
      await pipeline(Readable.fromWeb(request.body as WebReadableStream), bb);
      await Promise.all(writes);
    } catch (err) {
      if (err instanceof RelayError || (err as { name?: string }).name === 'HTTPException')
        throw err;
      throw invalidRequest(`Malformed multipart body: ${(err as Error).message}.`);
    }
    if (tooLarge) throw new RelayError(413, 'request_too_large', 'Uploaded file is too large.');
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    fields,
    files,
    async toFormData(overrides) {
      const form = new FormData();
      for (const [name, values] of fields) {
        if (Object.hasOwn(overrides, name)) continue;
        for (const v of values) form.append(name, v);
      }
      for (const [name, value] of Object.entries(overrides)) form.append(name, value);
      for (const f of files)
        form.append(f.field, await openAsBlob(f.path, { type: f.mimeType }), f.filename);
      return form;
    },
    cleanup,
  };
}
