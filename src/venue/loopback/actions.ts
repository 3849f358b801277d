/**
 * POST /exchange of the loopback server: signed L1 actions, checked in the exchange's order — body shape (HTTP
 * 422 when it does not deserialize), signature (the signer is recovered, signing.ts), signer → account (API
 * wallets trade for their master), expiry, nonce, the address request budget — then executed against the
 * exchange state. Mainnet's limits (limits.ts) are on by default; each can be switched off.
 */
import type { ExchangeState, OrderInput, OrderStatusWire } from './exchange-state.ts';
import type { FaultInjector } from './faults.ts';
import {
  admitRequest,
  keptNonces,
  NonceSet,
  SCHEDULE_CANCEL_MIN_VOLUME,
  scheduleCancelVolumeError,
} from './limits.ts';
import { isWireSignature, recoverL1Signer } from './signing.ts';
import { type Reply, reply422 } from './wire.ts';

/** Mainnet behaviours, each on unless switched off. */
export interface MainnetRules {
  /** Refuse scheduleCancel until the account has traded $1M (default true). */
  scheduleCancelGate: boolean;
  /** Address request budget: 10,000 + 1 per USDC traded, then one request per 10 s (default true). */
  requestBudget: boolean;
  /** Current nonce rule: 20 highest kept (+1 per $1M traded, ≤ 100), within 1 day (default true); off: 100, (T − 2 d, T + 1 d). */
  strictNonces: boolean;
}

/** Action types the exchange knows but the loopback does not simulate (answered with an error, not a 422). */
const UNSIMULATED_ACTIONS = new Set([
  'twapOrder',
  'twapCancel',
  'updateIsolatedMargin',
  'topUpIsolatedOnlyMargin',
  'usdSend',
  'spotSend',
  'sendAsset',
  'withdraw3',
  'usdClassTransfer',
  'approveAgent',
  'approveBuilderFee',
  'createSubAccount',
  'subAccountTransfer',
  'subAccountSpotTransfer',
  'vaultTransfer',
  'createVault',
  'setReferrer',
  'registerReferrer',
  'setDisplayName',
  'reserveRequestWeight',
  'tokenDelegate',
  'cDeposit',
  'cWithdraw',
  'claimRewards',
  'evmUserModify',
  'convertToMultiSigUser',
  'multiSig',
  'spotUser',
  'agentEnableDexAbstraction',
  'agentSetAbstraction',
  'userSetAbstraction',
  'userDexAbstraction',
  'borrowLend',
  'linkStakingUser',
  'perpDeploy',
  'spotDeploy',
  'vaultModify',
  'vaultDistribute',
]);

export interface ActionContext {
  state: ExchangeState;
  faults: FaultInjector;
  rules: MainnetRules;
  /** Wall clock (ms): nonces, expiresAfter and scheduleCancel times are wall-clock, as clients send them. */
  wallNow(): number;
  isTestnet?: boolean;
  /** Minimum delay of a scheduleCancel time from now, ms (the exchange's is 5000). */
  scheduleCancelMinDelayMs: number;
  /** Signer → account: a master itself or the master an API wallet trades for; undefined when unknown. */
  resolveSigner(signer: string): string | undefined;
  isAccount(address: string): boolean;
  stats: { ordersReceived: number };
}

const err = (response: string): Reply => ({ status: 200, body: { status: 'err', response } });
const okReply = (type: string, data?: unknown): Reply => ({
  status: 200,
  body: { status: 'ok', response: data === undefined ? { type } : { type, data } },
});

function parseOrder(o: unknown): OrderInput | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const w = o as Record<string, unknown>;
  const t = w.t as Record<string, unknown> | undefined;
  if (
    typeof w.a !== 'number' ||
    typeof w.b !== 'boolean' ||
    typeof w.p !== 'string' ||
    typeof w.s !== 'string' ||
    typeof w.r !== 'boolean' ||
    typeof t !== 'object' ||
    t === null ||
    (w.c !== undefined && (typeof w.c !== 'string' || !/^0x[0-9a-fA-F]{32}$/.test(w.c)))
  ) {
    return undefined;
  }
  const limit = t.limit as Record<string, unknown> | undefined;
  if (!limit && !('trigger' in t)) return undefined;
  return {
    asset: w.a,
    isBuy: w.b,
    pxStr: w.p,
    szStr: w.s,
    reduceOnly: w.r,
    tif: typeof limit?.tif === 'string' ? limit.tif : 'Gtc',
    cloid: typeof w.c === 'string' ? w.c.toLowerCase() : undefined,
    isTrigger: 'trigger' in t,
  };
}

function modifyTarget(oid: unknown): number | string | undefined {
  if (typeof oid === 'number' && Number.isSafeInteger(oid)) return oid;
  if (typeof oid === 'string' && /^0x[0-9a-fA-F]{32}$/.test(oid)) return oid.toLowerCase();
  return undefined;
}

/** One action, parsed: how much address budget it takes, whether it is a cancel, and how to run it. */
interface Parsed {
  weight: number;
  isCancel: boolean;
  run: (user: string) => Reply;
}

export function createExchangeHandler(ctx: ActionContext): (body: Record<string, unknown>) => Promise<Reply> {
  const { state, faults } = ctx;
  const nonces = new Map<string, NonceSet>();

  const place = (user: string, input: OrderInput): OrderStatusWire => {
    ctx.stats.ordersReceived++;
    const rejection = faults.takeOrderRejection();
    if (rejection !== undefined) return { error: rejection };
    return state.placeOrder(user, input);
  };

  /** Parse an action; undefined when the exchange would not deserialize it (HTTP 422). */
  const parse = (a: Record<string, unknown>): Parsed | undefined | string => {
    switch (a.type) {
      case 'order': {
        if (!Array.isArray(a.orders)) return undefined;
        const inputs = a.orders.map(parseOrder);
        if (inputs.some((x) => x === undefined)) return undefined;
        return {
          weight: Math.max(1, inputs.length),
          isCancel: false,
          run: (user) => okReply('order', { statuses: (inputs as OrderInput[]).map((i) => place(user, i)) }),
        };
      }
      case 'cancel': {
        if (!Array.isArray(a.cancels)) return undefined;
        const cs = a.cancels as { a?: unknown; o?: unknown }[];
        if (cs.some((c) => typeof c?.a !== 'number' || typeof c?.o !== 'number')) return undefined;
        return {
          weight: Math.max(1, cs.length),
          isCancel: true,
          run: (user) =>
            okReply('cancel', { statuses: cs.map((c) => state.cancel(user, c.a as number, c.o as number)) }),
        };
      }
      case 'cancelByCloid': {
        if (!Array.isArray(a.cancels)) return undefined;
        const cs = a.cancels as { asset?: unknown; cloid?: unknown }[];
        if (cs.some((c) => typeof c?.asset !== 'number' || typeof c?.cloid !== 'string')) return undefined;
        return {
          weight: Math.max(1, cs.length),
          isCancel: true,
          run: (user) =>
            okReply('cancel', {
              statuses: cs.map((c) =>
                state.cancelByCloid(user, c.asset as number, (c.cloid as string).toLowerCase()),
              ),
            }),
        };
      }
      case 'batchModify': {
        if (!Array.isArray(a.modifies)) return undefined;
        const ms = (a.modifies as { oid?: unknown; order?: unknown }[]).map((m) => ({
          target: modifyTarget(m?.oid),
          input: parseOrder(m?.order),
        }));
        if (ms.some((m) => m.target === undefined || m.input === undefined)) return undefined;
        return {
          weight: Math.max(1, ms.length),
          isCancel: false,
          run: (user) =>
            okReply('order', {
              statuses: ms.map((m) => {
                ctx.stats.ordersReceived++;
                const rejection = faults.takeOrderRejection();
                if (rejection !== undefined) return { error: rejection };
                return state.modify(user, m.target as number | string, m.input as OrderInput);
              }),
            }),
        };
      }
      case 'modify': {
        const target = modifyTarget(a.oid);
        const input = parseOrder(a.order);
        if (target === undefined || input === undefined) return undefined;
        return {
          weight: 1,
          isCancel: false,
          run: (user) => {
            ctx.stats.ordersReceived++;
            const r = state.modify(user, target, input);
            return 'error' in r ? err(r.error) : okReply('default');
          },
        };
      }
      case 'scheduleCancel': {
        if (a.time !== undefined && a.time !== null && typeof a.time !== 'number') return undefined;
        const time = a.time as number | undefined | null;
        return {
          weight: 1,
          isCancel: false,
          run: (user) => {
            const acc = state.account(user);
            if (ctx.rules.scheduleCancelGate && acc.cumVlm < SCHEDULE_CANCEL_MIN_VOLUME) {
              return err(scheduleCancelVolumeError(acc.cumVlm));
            }
            if (time === undefined || time === null) {
              acc.scheduledCancelAt = undefined;
              return okReply('default');
            }
            if (time < ctx.wallNow() + ctx.scheduleCancelMinDelayMs) {
              return err('Scheduled cancel time too early, must be at least 5 seconds from now.');
            }
            acc.scheduledCancelAt = time;
            return okReply('default');
          },
        };
      }
      case 'updateLeverage': {
        if (typeof a.asset !== 'number' || typeof a.leverage !== 'number' || typeof a.isCross !== 'boolean')
          return undefined;
        const asset = a.asset;
        const leverage = a.leverage;
        if (!a.isCross) return 'Isolated margin is not supported by the loopback server.';
        return {
          weight: 1,
          isCancel: false,
          run: (user) => {
            const r = state.updateLeverage(user, asset, leverage);
            return 'error' in r ? err(r.error) : okReply('default');
          },
        };
      }
      case 'noop':
        return { weight: 1, isCancel: false, run: () => okReply('default') };
      default:
        if (typeof a.type === 'string' && UNSIMULATED_ACTIONS.has(a.type))
          return `Action ${a.type} is not simulated by the loopback server.`;
        return undefined;
    }
  };

  return async (body) => {
    const { action, nonce, signature } = body;
    if (
      typeof action !== 'object' ||
      action === null ||
      Array.isArray(action) ||
      typeof nonce !== 'number' ||
      !Number.isSafeInteger(nonce) ||
      !isWireSignature(signature)
    ) {
      return reply422();
    }
    if (
      body.vaultAddress !== undefined &&
      body.vaultAddress !== null &&
      typeof body.vaultAddress !== 'string'
    )
      return reply422();
    const parsed = parse(action as Record<string, unknown>);
    if (parsed === undefined) return reply422();
    const vaultAddress = typeof body.vaultAddress === 'string' ? body.vaultAddress.toLowerCase() : undefined;
    const expiresAfter = typeof body.expiresAfter === 'number' ? body.expiresAfter : undefined;
    let signer: string;
    try {
      signer = await recoverL1Signer({
        action,
        nonce,
        signature,
        vaultAddress,
        expiresAfter,
        isTestnet: ctx.isTestnet,
      });
    } catch {
      return err('Invalid signature');
    }
    let user = ctx.resolveSigner(signer);
    if (!user) return err(`User or API Wallet ${signer} does not exist.`);
    if (vaultAddress) {
      if (!ctx.isAccount(vaultAddress)) return err(`Vault not registered: ${vaultAddress}`);
      user = vaultAddress;
    }
    const wall = ctx.wallNow();
    if (expiresAfter !== undefined && expiresAfter < wall) return err('Action already expired');
    const acc = state.account(user);
    let set = nonces.get(signer);
    if (!set) nonces.set(signer, (set = new NonceSet()));
    const keep = keptNonces(ctx.rules.strictNonces, acc.cumVlm);
    const nonceError = set.check(nonce, wall, ctx.rules.strictNonces, keep);
    if (nonceError) return err(nonceError);
    if (typeof parsed === 'string') {
      set.use(nonce, keep);
      return err(parsed);
    }
    if (ctx.rules.requestBudget) {
      const refused = admitRequest(acc, parsed.weight, parsed.isCancel, wall);
      if (refused) return err(refused);
    } else acc.nRequestsUsed += parsed.weight;
    set.use(nonce, keep);
    return parsed.run(user);
  };
}
