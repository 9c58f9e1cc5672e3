// jest --testSequencer: the test files in an order shuffled by TEST_ORDER_SEED (scripts/test). A fresh machine has no
// timing cache, so jest orders its files differently than on a machine that ran them before: a file that passes only
// after another has made something (a directory, an image) fails there. A shuffled run shows that here; the seed
// printed repeats it.
const Sequencer = require('@jest/test-sequencer').default;

/** mulberry32: a small seeded generator, enough to shuffle a list reproducibly. */
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class ShuffledOrder extends Sequencer {
  sort(tests) {
    const seed = Number(process.env.TEST_ORDER_SEED);
    if (!Number.isInteger(seed)) throw new Error('shuffled-order.js: TEST_ORDER_SEED must be an integer');
    const next = generator(seed);
    const order = [...tests].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }
}

module.exports = ShuffledOrder;
