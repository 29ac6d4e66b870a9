import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Formats } from './format.ts';
import type { Lang, MessageKey } from './i18n.ts';

export interface ConsoleContext {
  readonly lang: Lang;
  readonly t: (key: MessageKey, vars?: Readonly<Record<string, string | number>>) => string;
  readonly f: Formats;
}

export const Ctx = createContext<ConsoleContext>(null as unknown as ConsoleContext);

export const useConsole = (): ConsoleContext => useContext(Ctx);
