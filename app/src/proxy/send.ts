import type { ChannelConfig } from '../config.ts';
import type { ProviderAdapter, UpstreamRequest } from '../providers/types.ts';
import type {
  UpstreamResponse,
  UpstreamTimeouts,
  WaitObserver,
} from '../routing/upstream-client.ts';
import type { AbortSource } from '../routing/cancel.ts';
import type { RelayRuntime } from '../runtime.ts';

export interface SendOptions {
  readonly timeouts: UpstreamTimeouts;
  readonly signal: AbortSource;
  readonly waits?: WaitObserver;
}

/**
 * Sends a built request to its channel: through the adapter's own transport when it has one
 * (an SDK that signs, as Bedrock's does), else through the relay's HTTP client.
 */
export function sendToChannel(
  rt: RelayRuntime,
  adapter: ProviderAdapter,
  channel: ChannelConfig,
  req: UpstreamRequest,
  options: SendOptions,
): Promise<UpstreamResponse> {
  if (adapter.transport) {
    const images = rt.config.images;
    return adapter.transport(req, {
      channel,
      ...options,
      media: {
        maxBytes: images.maxImageBytes,
        timeoutMs: images.downloadTimeoutMs,
        allowPrivate: images.allowPrivateImageUrls,
      },
    });
  }
  return rt.upstream.request({
    url: req.url,
    method: req.method,
    headers: req.headers,
    body: req.body,
    ...options,
  });
}
