import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { z } from 'zod';
import { invalidRequest } from '../errors.ts';
import type { ImageStore } from '../images/index.ts';
import { materializeImages } from '../images/index.ts';
import { spoolMultipart } from '../multipart/spool.ts';
import type { SpooledForm } from '../multipart/spool.ts';
import type { OpenAiOnlyEndpoint, ProxyJob } from '../core/job.ts';
import { openAiDialect } from '../dialects/openai/index.ts';
import { proxy } from '../proxy/proxy.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';
import { estimateTokens } from '../usage/extract.ts';
import { readJson } from './body.ts';

const responseFormat = z.enum(['url', 'b64_json']).nullish();

const generationSchema = z.looseObject({
  model: z.string().min(1).max(256).optional(),
  prompt: z.string().min(1),
  n: z.number().int().min(1).max(10).nullish(),
  size: z.string().nullish(),
  quality: z.string().nullish(),
  response_format: responseFormat,
});

/** dall-e-2 is OpenAI's default when a request names no model. */
const DEFAULT_MODEL = 'dall-e-2';

/**
 * Images: the upstream answers with base64 or short-lived URLs; the client gets a stable URL
 * under the relay's own base URL (or base64, still archived when configured).
 */
export function imageRoutes(
  deps: RelayRuntime,
  store: ImageStore,
  tmpRoot = join(tmpdir(), 'llm-relay-uploads'),
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const images = deps.config.images;

  const materialize =
    (format: 'url' | 'b64_json', signal: AbortSignal) => async (json: unknown) => {
      const body = await materializeImages(json, {
        store,
        responseFormat: format,
        archive: images.archive,
        download: { maxBytes: images.maxImageBytes, timeoutMs: images.downloadTimeoutMs, signal },
      });
      return { body, images: body.data.length };
    };

  const job = (
    endpoint: OpenAiOnlyEndpoint,
    model: string,
    n: number,
    detail: Record<string, unknown>,
    format: 'url' | 'b64_json',
    signal: AbortSignal,
    prompt: string,
  ): Omit<ProxyJob, 'body'> => ({
    dialect: openAiDialect,
    operation: endpoint,
    endpoint,
    model,
    stream: false,
    clientWantsUsage: false,
    estimate: { promptTokens: estimateTokens(prompt), completionTokens: 0 },
    images: n,
    detail,
    transformJson: materialize(format, signal),
  });

  app.post('/images/generations', async (c) => {
    const body = await readJson(c, generationSchema);
    const model = body.model ?? DEFAULT_MODEL;
    const format = body.response_format ?? 'url';
    const detail = {
      size: body.size ?? null,
      quality: body.quality ?? null,
      requested: body.n ?? 1,
    };
    return await proxy(c, deps, {
      ...job(
        '/images/generations',
        model,
        body.n ?? 1,
        detail,
        format,
        c.req.raw.signal,
        body.prompt,
      ),
      body: (route) => ({ json: { ...body, model: route.upstreamModel } }),
    });
  });

  const multipart = (endpoint: '/images/edits' | '/images/variations') =>
    app.post(endpoint, async (c) => {
      const form: SpooledForm = await spoolMultipart(
        c.req.raw,
        tmpRoot,
        deps.config.server.bodyLimitBytes,
      );
      try {
        const field = (name: string) => form.fields.get(name)?.[0];
        if (!form.files.some((f) => f.field === 'image' || f.field === 'image[]')) {
          throw invalidRequest(
            "Missing required parameter: 'image'.",
            'image',
            'missing_required_parameter',
          );
        }
        if (endpoint === '/images/edits' && !field('prompt')) {
          throw invalidRequest(
            "Missing required parameter: 'prompt'.",
            'prompt',
            'missing_required_parameter',
          );
        }
        const format = field('response_format') ?? 'url';
        if (format !== 'url' && format !== 'b64_json') {
          throw invalidRequest(
            "Invalid 'response_format': expected 'url' or 'b64_json'.",
            'response_format',
            'invalid_value',
          );
        }
        const n = Number(field('n') ?? 1);
        if (!Number.isInteger(n) || n < 1 || n > 10)
          throw invalidRequest(
            "Invalid 'n': expected an integer from 1 to 10.",
            'n',
            'invalid_value',
          );
        const model = field('model') ?? DEFAULT_MODEL;
        const detail = {
          size: field('size') ?? null,
          quality: field('quality') ?? null,
          requested: n,
        };
        return await proxy(c, deps, {
          ...job(endpoint, model, n, detail, format, c.req.raw.signal, field('prompt') ?? ''),
          body: async (route) => ({ form: await form.toFormData({ model: route.upstreamModel }) }),
        });
      } finally {
        // A non-stream answer is complete once proxy() returns: the upload is no longer needed.
        await form.cleanup();
      }
    });
  multipart('/images/edits');
  multipart('/images/variations');
  return app;
}
