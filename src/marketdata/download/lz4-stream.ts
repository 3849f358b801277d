/**
 * LZ4 frame decompression as a stream: compressed chunks in, decompressed blocks out, one block (≤ 4 MiB) in
 * memory at a time. lz4-napi decodes whole frames only, so this reads the frame format itself (magic, FLG/BD
 * descriptor, blocks, end mark, checksums — lz4_Frame_format.md) and hands each block to lz4-napi's native
 * block decoder (`uncompressSync` with the size prepended, and the previous 64 KiB as dictionary for linked
 * blocks). Content and block checksums (xxHash32) are verified with xxhash-wasm, so a corrupt file fails here
 * rather than feeding wrong numbers downstream; a file that ends before its end mark fails as truncated.
 * Concatenated frames and skippable frames are accepted, as the `lz4` tool does.
 */
import { uncompressSync } from 'lz4-napi';
import xxhash, { type XXHashAPI } from 'xxhash-wasm';

const MAGIC = 0x184d2204;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const BLOCK_MAX: Record<number, number> = { 4: 64 << 10, 5: 256 << 10, 6: 1 << 20, 7: 4 << 20 };
const DICT_BYTES = 64 << 10;

/** The data is not a valid (or complete) LZ4 frame. */
export class Lz4FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Lz4FormatError';
  }
}

let hasher: Promise<XXHashAPI> | undefined;
function xxh(): Promise<XXHashAPI> {
  hasher ??= xxhash();
  return hasher;
}

/** Pulls exact byte counts out of an async stream of chunks. */
class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Bytes available without reading more. */
  private get avail(): number {
    return this.buf.length - this.pos;
  }

  private async fill(n: number): Promise<boolean> {
    while (this.avail < n && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      this.buf = this.avail === 0 ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    }
    return this.avail >= n;
  }

  /** Exactly n bytes, or undefined at a clean end of input (no byte left); throws when cut short. */
  async take(n: number, what: string): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.avail === 0 && this.done) return undefined;
      throw new Lz4FormatError(`truncated: input ends inside the ${what}`);
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  async need(n: number, what: string): Promise<Buffer> {
    const b = await this.take(n, what);
    if (!b) throw new Lz4FormatError(`truncated: input ends before the ${what}`);
    return b;
  }
}

/**
 * Decompress an LZ4 frame stream. Yields decompressed blocks in order; throws Lz4FormatError on anything
 * that is not a complete, checksum-valid LZ4 frame.
 */
export async function* lz4FrameDecompress(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const api = await xxh();
  const r = new ByteReader(source);
  let frames = 0;
  for (;;) {
    const magicBytes = await r.take(4, 'frame magic number');
    if (!magicBytes) {
      if (frames === 0) throw new Lz4FormatError('empty input: no LZ4 frame');
      return;
    }
    const magic = magicBytes.readUInt32LE(0);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      const len = (await r.need(4, 'skippable frame size')).readUInt32LE(0);
      await r.need(len, 'skippable frame');
      continue;
    }
    if (magic !== MAGIC) {
      throw new Lz4FormatError(
        frames === 0
          ? `not an LZ4 frame (magic 0x${magic.toString(16)})`
          : `garbage after LZ4 frame ${frames} (magic 0x${magic.toString(16)})`,
      );
    }
    frames++;
    const flg = (await r.need(1, 'frame descriptor'))[0];
    const bd = (await r.need(1, 'frame descriptor'))[0];
    if (flg >> 6 !== 1) throw new Lz4FormatError(`unsupported LZ4 frame version ${flg >> 6}`);
    const independent = (flg & 0x20) !== 0;
    const blockChecksum = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const hasDictId = (flg & 0x01) !== 0;
    const blockMax = BLOCK_MAX[(bd >> 4) & 7];
    if (!blockMax) throw new Lz4FormatError(`invalid LZ4 block size code ${(bd >> 4) & 7}`);
    const descRest = await r.need((hasContentSize ? 8 : 0) + (hasDictId ? 4 : 0) + 1, 'frame descriptor');
    const desc = Buffer.concat([Buffer.from([flg, bd]), descRest.subarray(0, descRest.length - 1)]);
    const hc = descRest[descRest.length - 1];
    if (((api.h32Raw(desc, 0) >>> 8) & 0xff) !== hc)
      throw new Lz4FormatError('frame descriptor checksum mismatch (corrupt header)');
    if (hasDictId) throw new Lz4FormatError('LZ4 frames with a preset dictionary are not supported');
    const expectedSize = hasContentSize ? Number(desc.readBigUInt64LE(2)) : undefined;
    const content = contentChecksum ? api.create32(0) : undefined;
    let dict: Buffer | undefined;
    let total = 0;
    for (;;) {
      const word = (await r.need(4, 'block size')).readUInt32LE(0);
      if (word === 0) break; // end mark
      const raw = (word & 0x80000000) !== 0;
      const len = word & 0x7fffffff;
      if (len > blockMax) throw new Lz4FormatError(`block of ${len} bytes exceeds the frame's ${blockMax}`);
      const data = await r.need(len, 'block data');
      if (blockChecksum) {
        const sum = (await r.need(4, 'block checksum')).readUInt32LE(0);
        if (api.h32Raw(data, 0) >>> 0 !== sum) throw new Lz4FormatError('block checksum mismatch');
      }
      let out: Buffer;
      if (raw) {
        out = Buffer.from(data); // copy: `data` may be a view into the reader's buffer
      } else {
        const input = Buffer.allocUnsafe(4 + len);
        input.writeUInt32LE(blockMax, 0);
        data.copy(input, 4);
        try {
          out = !independent && dict ? uncompressSync(input, dict) : uncompressSync(input);
        } catch (err) {
          throw new Lz4FormatError(`corrupt LZ4 block: ${(err as Error).message}`);
        }
      }
      total += out.length;
      content?.update(out);
      if (!independent) {
        dict =
          out.length >= DICT_BYTES
            ? out.subarray(out.length - DICT_BYTES)
            : Buffer.concat([dict ?? Buffer.alloc(0), out]).subarray(-DICT_BYTES);
      }
      yield out;
    }
    if (content) {
      const sum = (await r.need(4, 'content checksum')).readUInt32LE(0);
      if (content.digest() >>> 0 !== sum)
        throw new Lz4FormatError('content checksum mismatch (corrupt data)');
    }
    if (expectedSize !== undefined && expectedSize !== total)
      throw new Lz4FormatError(`frame declares ${expectedSize} bytes, decoded ${total}`);
  }
}

/** Split a stream of byte chunks into UTF-8 lines (without the newline); the last line may lack one. */
export async function* splitLines(source: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let rest = '';
  for await (const chunk of source) {
    const text = rest + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      yield text.slice(start, nl);
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  rest += decoder.decode();
  if (rest.length > 0) yield rest;
}
