import type { MediaSource } from './chat.ts';

const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)(?:;[\w-]+=[^;,]*)*;base64,(.*)$/s;

/** An image or file reference as the neutral source: data: URLs become inline bytes. */
export function sourceFromUrl(url: string): MediaSource {
  const m = DATA_URL.exec(url);
  return m ? { kind: 'base64', mediaType: m[1]!.toLowerCase(), data: m[2]! } : { kind: 'url', url };
}

/** The neutral source as one URL: inline bytes become a data: URL. */
export function urlFromSource(source: MediaSource): string {
  return source.kind === 'url' ? source.url : `data:${source.mediaType};base64,${source.data}`;
}
