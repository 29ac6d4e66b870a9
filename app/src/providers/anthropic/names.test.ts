import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../core/chat.ts';
import { anthropicToolId, anthropicToolName, toolNameMap } from './names.ts';

describe('anthropicToolId', () => {
  it('keeps ids Anthropic accepts', () => {
    expect(anthropicToolId('toolu_01A09q90qw90lq917835lq9')).toBe('toolu_01A09q90qw90lq917835lq9');
    expect(anthropicToolId('call_abc-123')).toBe('call_abc-123');
  });

  it('rewrites other ids into ^[a-zA-Z0-9_-]+$, the same way every time, keeping near-twins apart', () => {
    const kimi = anthropicToolId('functions.get_weather:0');
    expect(kimi).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(kimi.startsWith('functions_get_weather_0_')).toBe(true);
    expect(anthropicToolId('functions.get_weather:0')).toBe(kimi);
    expect(anthropicToolId('a.b')).not.toBe(anthropicToolId('a:b'));
    expect(anthropicToolId('')).toMatch(/^[a-zA-Z0-9_-]+$/);
  });
});

describe('anthropicToolName', () => {
  it('keeps names Anthropic accepts', () => {
    expect(anthropicToolName('get_weather')).toBe('get_weather');
    expect(anthropicToolName('x'.repeat(64))).toBe('x'.repeat(64));
  });

  it('shortens names over 64 characters and cleans refused characters, deterministically', () => {
    const long = 'mcp__github-enterprise-server__list_pull_request_review_comments_for_repository';
    const short = anthropicToolName(long);
    expect(short).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(anthropicToolName(long)).toBe(short);
    expect(anthropicToolName(`${long}_2`)).not.toBe(short);
    expect(anthropicToolName('files.read')).toMatch(/^files_read_[0-9a-f]{8}$/);
  });
});

describe('toolNameMap', () => {
  it('maps the names of a request back to the client’s own', () => {
    const long = `mcp__server__${'very_long_tool_name_'.repeat(4)}`;
    const chat: ChatRequest = {
      model: 'm',
      system: [],
      messages: [
        {
          role: 'assistant',
          content: [{ type: 'tool_call', id: '1', name: 'history.tool', input: {} }],
        },
      ],
      tools: [{ name: long, inputSchema: { type: 'object' } }],
      toolChoice: { type: 'tool', name: 'forced:tool' },
      stop: [],
      stream: false,
    };
    const names = toolNameMap(chat);
    for (const name of [long, 'history.tool', 'forced:tool', 'plain']) {
      expect(names.fromUpstream(names.toUpstream(name))).toBe(name);
    }
    expect(names.fromUpstream('unknown_name')).toBe('unknown_name');
  });
});
