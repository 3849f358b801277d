/**
 * Telegram, as freqtrade users expect: alerts are sent to the configured chat, and the bot answers commands
 * from that chat only — /status, /pnl, /params, /pause [coin], /resume [coin], /flatten [coin], /stop, /help —
 * each through the service core, like the REST API. The Bot API base URL is configurable (tests run a local
 * stub). Updates are long-polled with getUpdates; messages go out through a retrying queue. The bot token is
 * part of every URL, so no URL and no raw error text containing it is ever logged.
 */
import { RpcError, type ServiceCore } from '../rpc/core.ts';
import type { AlertKind } from '../rpc/events.ts';
import type { ControlAction } from '../rpc/port.ts';
import { DeliveryQueue } from './delivery.ts';
import { alertText, paramsText, pnlText, statusText } from './format.ts';

export interface TelegramOptions {
  token: string;
  chatId: string;
  /** Bot API base, e.g. https://api.telegram.org. */
  apiUrl: string;
  core: ServiceCore;
  /** Alert kinds to send (default all). */
  events?: AlertKind[];
  pollTimeoutSec?: number;
  logger?: {
    info(fields: Record<string, unknown>, msg: string): void;
    warn(fields: Record<string, unknown>, msg: string): void;
  };
  retries?: number;
  backoffMs?: number;
}

interface Update {
  update_id: number;
  message?: { text?: string; chat?: { id?: number | string } };
}

const HELP = [
  '/status — account and every market',
  '/pnl — P&L and its parts',
  '/params — calibrated parameters ± SE and κε',
  '/pause [coin] — stop quoting (orders cancelled)',
  '/resume [coin] — quote again',
  '/flatten [coin] — reduce-only until flat, then pause',
  '/stop — cancel everything and exit',
].join('\n');

export class TelegramBot {
  private readonly o: TelegramOptions;
  private readonly base: string;
  private readonly out: DeliveryQueue;
  private readonly abort = new AbortController();
  private offset = 0;
  private polling: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly ignoredChats = new Set<string>();
  /** Commands handled, and updates from other chats ignored (tests, status). */
  readonly stats = { commands: 0, ignored: 0, pollErrors: 0 };

  constructor(o: TelegramOptions) {
    this.o = o;
    this.base = `${o.apiUrl.replace(/\/+$/, '')}/bot${o.token}`;
    this.out = new DeliveryQueue({
      timeoutMs: 10_000,
      retries: o.retries ?? 3,
      backoffMs: o.backoffMs,
      attempt: async (body, signal) => {
        await this.call('sendMessage', body, signal);
      },
      onGiveUp: (err) => o.logger?.warn({ err: this.clean(err) }, 'telegram: gave up sending a message'),
    });
  }

  /** Never let the token reach a log line. */
  private clean(err: unknown): string {
    return String((err as Error)?.message ?? err)
      .split(this.o.token)
      .join('<token>');
  }

  private async call(method: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    const r = await fetch(`${this.base}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    const j = (await r.json().catch(() => ({}))) as { ok?: boolean; result?: unknown; description?: string };
    if (!r.ok || j.ok !== true) {
      const e = new Error(
        `${method}: HTTP ${r.status}${j.description ? ` ${j.description}` : ''}`,
      ) as Error & {
        status?: number;
      };
      e.status = r.status;
      throw e;
    }
    return j.result;
  }

  /** Send a text to the configured chat (queued, retried). */
  send(text: string): void {
    this.out.send({ chat_id: this.o.chatId, text: text.slice(0, 4096), disable_web_page_preview: true });
  }

  start(): void {
    this.unsubscribe = this.o.core.bus.subscribe((e) => {
      if (e.type !== 'alert') return;
      if (this.o.events && !this.o.events.includes(e.alert.kind)) return;
      this.send(alertText(e.alert));
    });
    this.polling = this.poll();
  }

  private async poll(): Promise<void> {
    let backoff = 1000;
    const timeout = this.o.pollTimeoutSec ?? 30;
    while (!this.abort.signal.aborted) {
      try {
        const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout((timeout + 15) * 1000)]);
        const updates = (await this.call(
          'getUpdates',
          { offset: this.offset, timeout, allowed_updates: ['message'] },
          signal,
        )) as Update[];
        backoff = 1000;
        for (const u of updates ?? []) {
          this.offset = Math.max(this.offset, u.update_id + 1);
          await this.onUpdate(u);
        }
      } catch (err) {
        if (this.abort.signal.aborted) break;
        this.stats.pollErrors++;
        const status = (err as { status?: number }).status;
        if (status === 401 || status === 404) {
          this.o.logger?.warn(
            { err: this.clean(err) },
            'telegram: the bot token was refused; commands disabled',
          );
          break;
        }
        this.o.logger?.warn({ err: this.clean(err), retryInMs: backoff }, 'telegram: getUpdates failed');
        await new Promise((r) => {
          const t = setTimeout(r, backoff);
          this.abort.signal.addEventListener('abort', () => {
            clearTimeout(t);
            r(undefined);
          });
        });
        backoff = Math.min(30_000, backoff * 2);
      }
    }
  }

  private async onUpdate(u: Update): Promise<void> {
    const text = u.message?.text;
    const chat = u.message?.chat?.id;
    if (typeof text !== 'string' || chat === undefined) return;
    if (String(chat) !== String(this.o.chatId)) {
      this.stats.ignored++;
      if (!this.ignoredChats.has(String(chat))) {
        this.ignoredChats.add(String(chat));
        this.o.logger?.warn(
          { chat: String(chat) },
          'telegram: ignoring messages from a chat that is not configured',
        );
      }
      return;
    }
    const m = /^\/([a-z]+)(?:@\S+)?(?:\s+(\S+))?\s*$/i.exec(text.trim());
    if (!m) return;
    this.stats.commands++;
    this.send(await this.answer(m[1].toLowerCase(), m[2]));
  }

  /** The reply to one command (exported behaviour: tests call it through the stub). */
  async answer(cmd: string, arg: string | undefined): Promise<string> {
    const core = this.o.core;
    try {
      switch (cmd) {
        case 'status':
          return statusText(core);
        case 'pnl':
        case 'profit':
          return pnlText(core);
        case 'params':
          return paramsText(core);
        case 'pause':
        case 'resume':
        case 'flatten':
        case 'stop': {
          // `/pause eth` means ETH (a chat is typed by hand); an exact match first, for coins like kPEPE.
          const coin =
            arg === undefined || arg.toUpperCase() === 'ALL'
              ? undefined
              : (core.coins().find((c) => c === arg) ??
                core.coins().find((c) => c.toLowerCase() === arg.toLowerCase()) ??
                arg);
          const r = await core.control(cmd as ControlAction, coin, 'telegram');
          if (cmd === 'stop' && coin === undefined) return 'stopping: cancelling every order and exiting';
          return r.markets
            .map((x) => `${x.coin}: ${cmd} → ${x.state.toUpperCase()}, ${x.openOrders} open orders`)
            .join('\n');
        }
        case 'start':
        case 'help':
          return `cjmm commands:\n${HELP}`;
        default:
          return `unknown command /${cmd}\n${HELP}`;
      }
    } catch (err) {
      if (err instanceof RpcError) return err.message;
      return `error: ${this.clean(err)}`;
    }
  }

  /** Stop polling; deliver what is queued (bounded). */
  async close(timeoutMs = 5000): Promise<void> {
    this.unsubscribe?.();
    await this.out.flush(timeoutMs);
    this.abort.abort();
    this.out.close();
    await this.polling;
  }
}
