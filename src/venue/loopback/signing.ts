/**
 * Signature checks of the loopback server, done the way Hyperliquid does them: an L1 action is hashed
 * (msgpack of the action as sent, nonce, vault marker/address, expiresAfter) by the library's own
 * `createL1ActionHash`, wrapped in the phantom-agent EIP-712 message (domain "Exchange", chainId 1337,
 * source "a" mainnet / "b" testnet), and the signer is recovered from the signature. A wrong key does not fail
 * loudly: it recovers to some other address, which the exchange then reports as unknown.
 */
import { createL1ActionHash } from '@nktkas/hyperliquid/signing';
import { type Hex, recoverTypedDataAddress } from 'viem';

export interface WireSignature {
  r: string;
  s: string;
  v: number;
}

const PHANTOM_AGENT_DOMAIN = {
  name: 'Exchange',
  version: '1',
  chainId: 1337,
  verifyingContract: '0x0000000000000000000000000000000000000000',
} as const;

const PHANTOM_AGENT_TYPES = {
  Agent: [
    { name: 'source', type: 'string' },
    { name: 'connectionId', type: 'bytes32' },
  ],
} as const;

export function isWireSignature(x: unknown): x is WireSignature {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  return (
    typeof s.r === 'string' &&
    /^0x[0-9a-fA-F]{1,64}$/.test(s.r) &&
    typeof s.s === 'string' &&
    /^0x[0-9a-fA-F]{1,64}$/.test(s.s) &&
    (s.v === 27 || s.v === 28)
  );
}

/** Recover the (lower-case) address that signed an L1 action. Throws if the signature cannot be recovered. */
export async function recoverL1Signer(args: {
  action: unknown;
  nonce: number;
  signature: WireSignature;
  vaultAddress?: string | null;
  expiresAfter?: number | null;
  isTestnet?: boolean;
}): Promise<string> {
  const connectionId = createL1ActionHash({
    action: args.action as Record<string, unknown>,
    nonce: args.nonce,
    vaultAddress: (args.vaultAddress ?? undefined) as `0x${string}` | undefined,
    expiresAfter: args.expiresAfter ?? undefined,
  });
  const address = await recoverTypedDataAddress({
    domain: PHANTOM_AGENT_DOMAIN,
    types: PHANTOM_AGENT_TYPES,
    primaryType: 'Agent',
    message: { source: args.isTestnet ? 'b' : 'a', connectionId: connectionId as Hex },
    signature: {
      r: padHex(args.signature.r),
      s: padHex(args.signature.s),
      v: BigInt(args.signature.v),
    },
  });
  return address.toLowerCase();
}

function padHex(h: string): Hex {
  return `0x${h.slice(2).padStart(64, '0')}` as Hex;
}
