/**
 * A faster signer for Hyperliquid L1 actions. Every order, modify and cancel is signed as the EIP-712 "phantom
 * agent" message Agent(string source, bytes32 connectionId) in the fixed domain ("Exchange", "1", chain 1337,
 * zero contract). viem's generic typed-data encoder re-derives the domain and type hashes on every call; here
 * they are computed once, so a signature costs two keccaks and the secp256k1 signature itself. The digest is
 * checked against viem's own `hashTypedData` when the signer is made; any other typed data goes to viem.
 *
 * When the raw key is at hand, the secp256k1 signature itself is made by libsecp256k1 (tiny-secp256k1, WASM)
 * instead of viem's pure-JS bigint code: the same RFC 6979 deterministic, low-s signature (byte for byte, checked
 * against viem on the first signature), ~3× faster and without the ~200 KB of bigint garbage per signature that
 * made young-generation GC pauses land on ~1% of ticks (the tick-to-order p99).
 */
import { signRecoverable } from 'tiny-secp256k1';
import { bytesToHex, concat, type Hex, hashTypedData, hexToBytes, keccak256, stringToHex } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';

/** What the venue needs to sign: a viem local account (the agent wallet). */
export interface Signer {
  address: `0x${string}`;
  // biome-ignore lint/suspicious/noExplicitAny: the library's AbstractWallet accepts any viem local account
  account: any;
  /**
   * The raw key `account` was made from, optional: with it, signatures are made by libsecp256k1 (WASM, ~3×
   * faster, far less GC) instead of viem's JS code — byte-identical (fastAgentWallet below). Never logged.
   */
  privateKey?: `0x${string}`;
}

const DOMAIN = {
  name: 'Exchange',
  version: '1',
  chainId: 1337,
  verifyingContract: '0x0000000000000000000000000000000000000000',
} as const;
const TYPES = {
  Agent: [
    { name: 'source', type: 'string' },
    { name: 'connectionId', type: 'bytes32' },
  ],
} as const;

const DOMAIN_SEPARATOR = keccak256(
  concat([
    keccak256(
      stringToHex('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
    ),
    keccak256(stringToHex(DOMAIN.name)),
    keccak256(stringToHex(DOMAIN.version)),
    `0x${DOMAIN.chainId.toString(16).padStart(64, '0')}`,
    `0x${'0'.repeat(64)}`,
  ]),
);
const AGENT_TYPEHASH = keccak256(stringToHex('Agent(string source,bytes32 connectionId)'));
const SOURCE_HASH: Record<string, Hex> = {
  a: keccak256(stringToHex('a')),
  b: keccak256(stringToHex('b')),
};

/** EIP-712 digest of Agent{source, connectionId} in the phantom-agent domain. */
export function agentDigest(source: string, connectionId: Hex): Hex {
  const sh = SOURCE_HASH[source] ?? keccak256(stringToHex(source));
  return keccak256(
    concat(['0x1901', DOMAIN_SEPARATOR, keccak256(concat([AGENT_TYPEHASH, sh, connectionId]))]),
  );
}

interface TypedDataArgs {
  domain?: { name?: string; version?: string; chainId?: number | bigint; verifyingContract?: string };
  types: Record<string, readonly { name: string; type: string }[]>;
  primaryType: string;
  message: Record<string, unknown>;
}

function isPhantomAgent(a: TypedDataArgs): boolean {
  const d = a.domain;
  return (
    a.primaryType === 'Agent' &&
    d?.name === DOMAIN.name &&
    d.version === DOMAIN.version &&
    Number(d.chainId) === DOMAIN.chainId &&
    d.verifyingContract?.toLowerCase() === DOMAIN.verifyingContract &&
    typeof a.message.source === 'string' &&
    typeof a.message.connectionId === 'string' &&
    /^0x[0-9a-fA-F]{64}$/.test(a.message.connectionId)
  );
}

/** r ‖ s ‖ v (27/28), the serialisation viem's `account.sign` returns. */
function signDigestWasm(hash: Hex, key: Uint8Array): Hex {
  const { signature, recoveryId } = signRecoverable(hexToBytes(hash), key);
  return `${bytesToHex(signature)}${recoveryId === 1 ? '1c' : '1b'}`;
}

/**
 * Digest signer: libsecp256k1 (WASM) when the raw key is given and its first signature is byte-identical to
 * viem's (so the key belongs to this account and the encoding is right), viem otherwise.
 */
function digestSigner(account: PrivateKeyAccount, privateKey: Hex | undefined): (hash: Hex) => Promise<Hex> {
  const viaViem = (hash: Hex) => account.sign({ hash });
  if (privateKey === undefined) return viaViem;
  const key = hexToBytes(privateKey);
  let checked: Promise<boolean> | undefined;
  return async (hash) => {
    checked ??= viaViem(hash)
      .then((v) => v === signDigestWasm(hash, key))
      .catch(() => false);
    return (await checked) ? signDigestWasm(hash, key) : viaViem(hash);
  };
}

/**
 * Wrap a viem local account so Hyperliquid's L1 signatures take the precomputed path. `privateKey` (the same
 * key the account was made from) enables the libsecp256k1 signature; it is kept in this closure only.
 */
export function fastAgentWallet(
  account: PrivateKeyAccount,
  privateKey?: Hex,
): {
  address: `0x${string}`;
  signTypedData(args: TypedDataArgs): Promise<Hex>;
} {
  // Self-check against viem once: a wrong digest would make every order recover to another address.
  const probe = { source: 'a', connectionId: keccak256(stringToHex('cjmm self-check')) };
  const viemDigest = hashTypedData({ domain: DOMAIN, types: TYPES, primaryType: 'Agent', message: probe });
  if (viemDigest !== agentDigest(probe.source, probe.connectionId as Hex)) {
    throw new Error('phantom-agent digest differs from viem hashTypedData: refusing the fast signer');
  }
  const signDigest = digestSigner(account, privateKey);
  return {
    address: account.address,
    signTypedData(args: TypedDataArgs): Promise<Hex> {
      if (isPhantomAgent(args)) {
        return signDigest(agentDigest(args.message.source as string, args.message.connectionId as Hex));
      }
      // biome-ignore lint/suspicious/noExplicitAny: pass-through of any other typed data to viem
      return account.signTypedData(args as any);
    },
  };
}
