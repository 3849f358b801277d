/**
 * The streaming LZ4 frame decoder of `data download` against lz4-napi's whole-frame decoder (the independent
 * truth): the real archive file (4 MiB independent blocks), lz4-napi's own frames and, when the `lz4` tool is
 * installed, its linked-block frames (`-BD`: each block refers back into the previous 64 KiB), fed in small
 * chunks; and every way a file can be bad — cut short anywhere, a flipped bit, not LZ4 at all.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { Lz4FormatError, lz4FrameDecompress, splitLines } from '../../src/marketdata/download/lz4-stream.ts';
import { ARCHIVE_ROOT, sharedSkip } from '../helpers/shared.ts';

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, Math.min(buf.length, i + size));
}

async function decode(buf: Buffer, size = 4096): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of lz4FrameDecompress(chunks(buf, size))) out.push(Buffer.from(b));
  return Buffer.concat(out);
}

async function failure(buf: Buffer): Promise<string> {
  try {
    await decode(buf, 1000);
  } catch (err) {
    assert.ok(err instanceof Lz4FormatError, `not an Lz4FormatError: ${String(err)}`);
    return err.message;
  }
  assert.fail('decoded a bad frame without an error');
}

/** ~1.5 MB of JSON-like lines, partly random (so some blocks do not compress and are stored raw). */
function text(): Buffer {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++)
    lines.push(
      i % 50 === 0
        ? Array.from({ length: 300 }, () => String.fromCharCode(33 + Math.floor(rnd() * 90))).join('')
        : JSON.stringify({
            coin: 'ETH',
            px: (3000 + rnd() * 10).toFixed(1),
            sz: rnd().toFixed(4),
            i,
            é: 'ü',
          }),
    );
  return Buffer.from(`${lines.join('\n')}\n`);
}

describe('lz4-stream', () => {
  const plain = text();
  const frame = compressFrameSync(plain, { contentChecksum: true, blockChecksums: true });

  test('decodes what lz4-napi encodes, whatever the chunking; concatenated and skippable frames', async () => {
    for (const size of [1, 7, 4096, 1 << 20]) {
      if (size === 1) {
        const small = compressFrameSync(plain.subarray(0, 20_000), { contentChecksum: true });
        assert.deepEqual(await decode(small, 1), plain.subarray(0, 20_000));
        continue;
      }
      assert.deepEqual(await decode(frame, size), plain, `chunks of ${size}`);
    }
    const skippable = Buffer.alloc(8 + 5);
    skippable.writeUInt32LE(0x184d2a53, 0);
    skippable.writeUInt32LE(5, 4);
    const b = compressFrameSync(Buffer.from('second frame\n'));
    assert.equal(
      (await decode(Buffer.concat([frame, skippable, b]), 999)).toString(),
      `${plain.toString()}second frame\n`,
    );
  });

  const lz4Tool = spawnSync('lz4', ['--version']).status === 0;
  test('linked blocks (lz4 -BD, 64 KiB): the previous block is the dictionary', {
    skip: lz4Tool ? false : 'the lz4 tool is not installed (apt-get install lz4)',
  }, async () => {
    const r = spawnSync('lz4', ['-c', '-B4', '-BD'], { input: plain, maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, String(r.stderr));
    const linked = r.stdout as Buffer;
    assert.equal(linked[4] & 0x20, 0, 'the lz4 tool wrote independent blocks');
    assert.deepEqual(await decode(linked, 3001), plain);
  });

  test('the real archive file (4 MiB blocks) decodes as lz4-napi decodes it whole', {
    skip: sharedSkip,
  }, async () => {
    const file = readFileSync(join(ARCHIVE_ROOT, 'market_data/20240101/12/l2Book/BTC.lz4'));
    const whole = decompressFrameSync(file);
    assert.ok(whole.length > file.length * 2);
    assert.deepEqual(await decode(file, 65_521), whole);
  });

  test('a file cut short anywhere, a flipped bit, or not LZ4 fails with Lz4FormatError', async () => {
    const cuts = [1, 4, 5, 7, 11, 100, 70_000, frame.length - 8, frame.length - 4, frame.length - 1];
    for (let c = 13; c < frame.length; c += Math.floor(frame.length / 17)) cuts.push(c);
    for (const c of cuts) assert.match(await failure(frame.subarray(0, c)), /truncated/, `cut at ${c}`);
    // A flipped bit: in the header, inside a block, in the content checksum.
    for (const at of [5, 1000, Math.floor(frame.length / 2), frame.length - 2]) {
      const bad = Buffer.from(frame);
      bad[at] ^= 0x10;
      assert.match(await failure(bad), /checksum mismatch|corrupt|exceeds|truncated/, `bit flipped at ${at}`);
    }
    // Without block checksums, a flipped bit is caught by the content checksum (or the block decoder).
    const noBlockSums = compressFrameSync(plain, { contentChecksum: true });
    const bad = Buffer.from(noBlockSums);
    bad[Math.floor(bad.length / 3)] ^= 0x01;
    assert.match(await failure(bad), /content checksum mismatch|corrupt LZ4 block|truncated/);
    assert.match(await failure(Buffer.from('<html>503 Service Unavailable</html>')), /not an LZ4 frame/);
    assert.match(await failure(Buffer.alloc(0)), /empty input/);
    assert.match(await failure(Buffer.concat([frame, Buffer.from('junk')])), /garbage after LZ4 frame 1/);
  });

  test('splitLines: lines across chunks, a UTF-8 character split between chunks, no final newline', async () => {
    const src = Buffer.from('a,é\n{"coin":"ü"}\n\nlast');
    const got: string[] = [];
    for await (const l of splitLines(chunks(src, 1))) got.push(l);
    assert.deepEqual(got, ['a,é', '{"coin":"ü"}', '', 'last']);
  });
});
