import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { invalidRequest } from '../errors.ts';
import { spoolMultipart } from '../multipart/spool.ts';
import { openAiDialect } from '../dialects/openai/index.ts';
import { proxy } from '../proxy/proxy.ts';
import type { RelayRuntime } from '../runtime.ts';
import type { AppEnv } from '../types.ts';

export function audioRoutes(
  deps: RelayRuntime,
  tmpRoot = join(tmpdir(), 'llm-relay-uploads'),
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/audio/transcriptions', async (c) => {
    const form = await spoolMultipart(c.req.raw, tmpRoot, deps.config.server.bodyLimitBytes);
    let handedOff = false;
    try {
      const model = form.fields.get('model')?.[0];
      if (!model)
        throw invalidRequest(
          "Missing required parameter: 'model'.",
          'model',
          'missing_required_parameter',
        );
      if (!form.files.some((f) => f.field === 'file')) {
        throw invalidRequest(
          "Missing required parameter: 'file'.",
          'file',
          'missing_required_parameter',
        );
      }
      const stream = form.fields.get('stream')?.[0] === 'true';
      const res = await proxy(c, deps, {
        dialect: openAiDialect,
        operation: '/audio/transcriptions',
        endpoint: '/audio/transcriptions',
        model,
        stream,
        clientWantsUsage: true,
        estimate: { promptTokens: 0, completionTokens: 0 },
        body: async (route) => ({ form: await form.toFormData({ model: route.upstreamModel }) }),
      });
      const record = c.get('record');
      handedOff = true;
      (record.done ?? Promise.resolve()).finally(() => form.cleanup());
      return res;
    } finally {
      if (!handedOff) await form.cleanup();
    }
  });
  return app;
}
