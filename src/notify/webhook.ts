/**
 * Webhook notifications, freqtrade's convention: each alert is a JSON POST to every configured URL (that
 * wants its kind), with a timeout and retries, delivered off the trading path. `format` shapes the body:
 * `json` (the alert itself plus `bot` and `mode`), `slack` (`{text}`) or `discord` (`{content}`).
 * URLs can hold secrets (Slack/Discord tokens): logs name only the host.
 */
import type { Alert, AlertKind, EventBus } from '../rpc/events.ts';
import { DeliveryQueue, type DeliveryStats } from './delivery.ts';
import { alertText } from './format.ts';

export interface WebhookTarget {
  url: string;
  events?: AlertKind[];
  timeoutMs: number;
  retries: number;
  headers?: Record<string, string>;
  format?: 'json' | 'slack' | 'discord';
}

export interface NotifyLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
}

export function webhookBody(a: Alert, format: WebhookTarget['format'], mode: string): unknown {
  if (format === 'slack') return { text: alertText(a) };
  if (format === 'discord') return { content: alertText(a) };
  return { bot: 'cjmm', mode, type: a.kind, ...a };
}

export class WebhookNotifier {
  private readonly queues: { target: WebhookTarget; q: DeliveryQueue }[];
  private readonly unsubscribe: () => void;

  constructor(o: {
    targets: WebhookTarget[];
    bus: EventBus;
    mode: string;
    logger?: NotifyLogger;
    backoffMs?: number;
  }) {
    this.queues = o.targets.map((target) => {
      const host = safeHost(target.url);
      const q = new DeliveryQueue({
        timeoutMs: target.timeoutMs,
        retries: target.retries,
        backoffMs: o.backoffMs,
        attempt: async (body, signal) => {
          const r = await fetch(target.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'user-agent': 'cjmm', ...(target.headers ?? {}) },
            body: JSON.stringify(body),
            signal,
          });
          await r.arrayBuffer().catch(() => undefined);
          if (!r.ok) throw new Error(`HTTP ${r.status}`);
        },
        onGiveUp: (err) =>
          o.logger?.warn(
            { webhook: host, err: String((err as Error)?.message ?? err) },
            'webhook: gave up on a notification',
          ),
      });
      return { target, q };
    });
    this.unsubscribe = o.bus.subscribe((e) => {
      if (e.type !== 'alert') return;
      for (const { target, q } of this.queues) {
        if (target.events && !target.events.includes(e.alert.kind)) continue;
        q.send(webhookBody(e.alert, target.format, o.mode));
      }
    });
  }

  stats(): DeliveryStats[] {
    return this.queues.map((x) => ({ ...x.q.stats }));
  }

  /** Waits (bounded) for what is queued, then stops. */
  async close(timeoutMs = 5000): Promise<void> {
    this.unsubscribe();
    await Promise.all(this.queues.map((x) => x.q.flush(timeoutMs)));
    for (const x of this.queues) x.q.close();
  }
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
}
