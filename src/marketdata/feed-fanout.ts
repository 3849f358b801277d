/**
 * One market-data connection, several users: `cjmm serve`'s recorder and trader share one WebSocket instead of
 * opening one each. The connection subscribes to the union of the coins asked for; each user attaches with its
 * coins and gets a MarketFeed that sees only their events and gaps. The connection opens with the first user's
 * `start()` and closes with the last user's `close()`, so either may start first and stop last (the recorder
 * starts before the trader and flushes after it).
 */
import type { Gap, MarketEvent } from './events.ts';
import type { FeedStats, MarketFeed } from './feed.ts';

export interface FanoutUser {
  coins: string[];
  onEvents(events: MarketEvent[]): void;
  onGap(gap: Gap): void;
}

interface Attached extends FanoutUser {
  set: Set<string>;
  open: boolean;
}

export class FeedFanout {
  readonly coins: string[];
  private readonly make: (handlers: {
    onEvents: (events: MarketEvent[]) => void;
    onGap: (gap: Gap) => void;
  }) => MarketFeed;
  private readonly users: Attached[] = [];
  private feed: MarketFeed | undefined;
  /** The last connection, for its counters after it closed (a recorder reports them at stop). */
  private last: MarketFeed | undefined;
  private starting: Promise<void> | undefined;

  /**
   * `coins`: every coin any user will attach with (the connection subscribes to all of them at once);
   * `make`: builds the one feed with the fan-out's handlers.
   */
  constructor(
    coins: string[],
    make: (handlers: { onEvents: (events: MarketEvent[]) => void; onGap: (gap: Gap) => void }) => MarketFeed,
  ) {
    this.coins = [...new Set(coins)];
    this.make = make;
  }

  /** A feed of `user.coins` over the shared connection. */
  attach(user: FanoutUser): MarketFeed {
    const missing = user.coins.filter((c) => !this.coins.includes(c));
    if (missing.length > 0) {
      throw new Error(
        `feed fan-out: ${missing.join(', ')} not among the connection's coins (${this.coins.join(', ')})`,
      );
    }
    const a: Attached = { ...user, set: new Set(user.coins), open: false };
    this.users.push(a);
    const stats = () => this.stats();
    return {
      start: async () => {
        a.open = true;
        await this.ensureStarted();
      },
      close: async () => {
        if (!a.open) return;
        a.open = false;
        if (this.users.some((u) => u.open)) return;
        const f = this.feed;
        this.feed = undefined;
        this.starting = undefined;
        await f?.close();
      },
      stats,
      forceReconnect: (reason: string) => this.feed?.forceReconnect(reason),
    };
  }

  /** The one connection's counters (every coin); after the last user closed, its final ones. */
  stats(): FeedStats {
    const f = this.feed ?? this.last;
    if (!f) throw new Error('feed fan-out: not started');
    return f.stats();
  }

  /** Users attached and open (tests). */
  get openUsers(): number {
    return this.users.filter((u) => u.open).length;
  }

  private ensureStarted(): Promise<void> {
    if (!this.starting) {
      const feed = this.make({
        onEvents: (events) => this.dispatch(events),
        onGap: (gap) => {
          for (const u of this.users) if (u.open && u.set.has(gap.coin)) u.onGap(gap);
        },
      });
      this.feed = feed;
      this.last = feed;
      this.starting = feed.start().catch((err) => {
        this.feed = undefined;
        this.starting = undefined;
        throw err;
      });
    }
    return this.starting;
  }

  private dispatch(events: MarketEvent[]): void {
    if (events.length === 0) return;
    const users = this.users;
    for (let i = 0; i < users.length; i++) {
      const u = users[i];
      if (!u.open) continue;
      // A message carries one coin's events: pass it on whole when the user has that coin.
      const coin = events[0].coin;
      let same = true;
      for (let k = 1; k < events.length; k++) {
        if (events[k].coin !== coin) {
          same = false;
          break;
        }
      }
      if (same) {
        if (u.set.has(coin)) u.onEvents(events);
        continue;
      }
      const mine = events.filter((e) => u.set.has(e.coin));
      if (mine.length > 0) u.onEvents(mine);
    }
  }
}
