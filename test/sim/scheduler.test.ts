import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventQueue } from '../../src/sim/scheduler.ts';
import { Rng } from '../../src/util/rng.ts';

/**
 * The reference: a plain list of (time, insertion number, label), the earliest by (time, number) taken by a
 * linear scan; times before `now` run at `now` (the scheduler's contract).
 */
class ReferenceQueue {
  now = Number.NEGATIVE_INFINITY;
  private seq = 0;
  readonly items: { t: number; s: number; run: () => void }[] = [];
  at(t: number, run: () => void): void {
    this.items.push({ t: Math.max(t, this.now), s: this.seq++, run });
  }
  runNext(): void {
    let best = 0;
    for (let k = 1; k < this.items.length; k++) {
      const a = this.items[k];
      const b = this.items[best];
      if (a.t < b.t || (a.t === b.t && a.s < b.s)) best = k;
    }
    const [it] = this.items.splice(best, 1);
    if (it.t > this.now) this.now = it.t;
    it.run();
  }
}

test('EventQueue runs callbacks in (time, insertion) order, like a linear-scan reference, with at and call mixed and callbacks scheduling more', () => {
  for (let trial = 0; trial < 40; trial++) {
    const rng = new Rng(1000 + trial);
    const q = new EventQueue();
    const ref = new ReferenceQueue();
    q.current = 0;
    ref.now = 0;
    const got: string[] = [];
    const want: string[] = [];
    let label = 0;
    // Times on a coarse grid so that ties are frequent (ties must keep insertion order).
    const time = () => Math.floor(rng.uniform() * 20) + (trial % 2 === 0 ? 0 : rng.uniform() < 0.5 ? 0.5 : 0);
    // A callback may schedule more work, as the venue's do (some of it at or before the current time).
    const schedule = (depth: number) => {
      const id = `${label++}`;
      const t = time() + (depth > 0 ? q.now() - 5 : 0);
      const more = depth < 3 && rng.uniform() < 0.4;
      const viaCall = rng.uniform() < 0.5;
      const tRef = t;
      const runRef = () => {
        want.push(`${id}@${ref.now}`);
        if (more) scheduleRef(depth + 1);
      };
      refPlan.push({ t: tRef, run: runRef });
      if (viaCall)
        q.call(
          t,
          (arg: string, at: number) => {
            assert.equal(at, q.now(), 'a callback gets its (clamped) time');
            got.push(`${arg}@${q.now()}`);
            if (more) schedule(depth + 1);
          },
          id,
        );
      else
        q.at(t, () => {
          got.push(`${id}@${q.now()}`);
          if (more) schedule(depth + 1);
        });
    };
    // The reference is fed the same plan, in the same order, from the same points of the run.
    const refPlan: { t: number; run: () => void }[] = [];
    let refNext = 0;
    const scheduleRef = (_depth: number) => {
      const p = refPlan[refNext++];
      ref.at(p.t, p.run);
    };
    for (let k = 0; k < 50; k++) {
      schedule(0);
      scheduleRef(0);
    }
    while (q.size > 0) q.runNext();
    while (ref.items.length > 0) ref.runNext();
    assert.equal(refNext, refPlan.length);
    assert.deepEqual(got, want, `trial ${trial}`);
    assert.ok(got.length >= 50);
    assert.equal(q.peekTime(), Number.POSITIVE_INFINITY);
  }
});
