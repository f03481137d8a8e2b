import { Rng } from '../lib/random';

/**
 * A realistic synthetic shop: customers follow the BG/NBD story (Poisson purchases while alive, a chance to
 * leave after each purchase, Gamma-Gamma order values), and what they write depends on how their relationship
 * goes, so text carries signal about value and churn the way real reviews and support messages do.
 */
export interface SampleData {
  customers: { externalId: string; birthYear: number; gender: string; region: string; signupDate: string; attributes: Record<string, unknown> }[];
  transactions: { externalId: string; customerExternalId: string; occurredAt: string; amount: string; currency: string; quantity: number; productId: string; category: string; description: string; kind: 'purchase' | 'refund' }[];
  comments: { externalId: string; customerExternalId: string; createdAt: string; source: 'review' | 'social' | 'support' | 'other'; language: string; text: string }[];
}

const REGIONS = ['UK', 'Germany', 'France', 'Spain', 'Netherlands', 'US', 'Italy', 'Sweden'];
const CATEGORIES: Record<string, string[]> = {
  kitchen: ['enamel mug', 'ceramic teapot', 'cake stand', 'baking tins set'],
  garden: ['herb planter', 'bird feeder', 'watering can', 'garden lantern'],
  gifts: ['gift wrap set', 'greeting cards pack', 'scented candle', 'photo frame'],
  toys: ['wooden puzzle', 'paper kite', 'marble run', 'building blocks'],
  home: ['cushion cover', 'wall clock', 'storage jar', 'door stop'],
};
const HAPPY = [
  'Lovely quality, arrived quickly and well packed. Will definitely order again.',
  'Great value for money, my family loves it. Already planning my next order.',
  'Exactly as described, fast delivery, excellent service. Five stars.',
  'Beautiful product and friendly support, I recommend this shop to all my friends.',
];
const NEUTRAL = [
  'Product is fine, nothing special. Delivery took about a week.',
  'Okay for the price. Colour slightly different from the photo.',
  'Decent item, packaging could be better.',
];
const UNHAPPY = [
  'My parcel arrived late and the box was damaged. Very disappointed.',
  'Still waiting for my refund after two weeks, nobody answers my emails.',
  'Too expensive for what you get, I found it cheaper elsewhere.',
  'Item broke after two days. I want to cancel my account and get my money back.',
  'Delivery was delayed three times, I will not order from here again.',
];

export function generateSampleData(opts: { customers?: number; seed?: number; end?: Date } = {}): SampleData {
  const n = opts.customers ?? 2000;
  const rng = new Rng(opts.seed ?? 42);
  const end = opts.end ?? new Date(Date.UTC(2025, 11, 31));
  const start = new Date(end.getTime() - 730 * 86_400_000);
  const out: SampleData = { customers: [], transactions: [], comments: [] };
  const iso = (t: number) => new Date(Math.round(t)).toISOString();

  for (let i = 0; i < n; i++) {
    const id = `C${String(i + 1).padStart(6, '0')}`;
    const signup = start.getTime() + rng.next() * 0.9 * (end.getTime() - start.getTime());
    const ratePerDay = rng.gamma(0.9, 1 / 25); // mean one order every ~28 days, very uneven
    const pDrop = rng.beta(0.9, 3.5);
    const meanSpend = rng.gamma(6, 9) + 5; // Gamma-Gamma style heterogeneity
    const satisfaction = Math.max(-1, Math.min(1, 0.8 - 2.2 * pDrop + 0.25 * rng.normal()));
    const region = rng.pick(REGIONS);
    out.customers.push({
      externalId: id,
      birthYear: 1950 + rng.int(55),
      gender: rng.pick(['female', 'male', 'other', 'unknown']),
      region,
      signupDate: iso(signup),
      attributes: { channel: rng.pick(['web', 'app', 'store']), newsletter: rng.next() < 0.4 },
    });
    let t = signup;
    let k = 0;
    for (;;) {
      const amount = rng.gamma(4, meanSpend / 4);
      const cat = rng.pick(Object.keys(CATEGORIES));
      const product = rng.pick(CATEGORIES[cat]!);
      const qty = 1 + rng.int(4);
      const ref = `${id}-T${++k}`;
      out.transactions.push({
        externalId: ref, customerExternalId: id, occurredAt: iso(t), amount: amount.toFixed(2), currency: 'GBP',
        quantity: qty, productId: `${cat}-${CATEGORIES[cat]!.indexOf(product)}`, category: cat, description: product, kind: 'purchase',
      });
      if (rng.next() < 0.03 + 0.05 * Math.max(0, -satisfaction)) {
        out.transactions.push({
          externalId: `${ref}-R`, customerExternalId: id, occurredAt: iso(t + 3 * 86_400_000), amount: amount.toFixed(2), currency: 'GBP',
          quantity: -qty, productId: `${cat}-${CATEGORIES[cat]!.indexOf(product)}`, category: cat, description: `refund: ${product}`, kind: 'refund',
        });
      }
      if (rng.next() < 0.18) {
        const mood = satisfaction + 0.5 * rng.normal();
        const text = mood > 0.3 ? rng.pick(HAPPY) : mood < -0.3 ? rng.pick(UNHAPPY) : rng.pick(NEUTRAL);
        out.comments.push({
          externalId: `${ref}-C`, customerExternalId: id, createdAt: iso(t + (1 + rng.int(10)) * 86_400_000),
          source: mood < -0.3 && rng.next() < 0.5 ? 'support' : 'review', language: 'en', text: `${text} (${product})`,
        });
      }
      if (rng.next() < pDrop) break;
      t += rng.exponential(Math.max(ratePerDay, 1e-4)) * 86_400_000;
      if (t > end.getTime()) break;
    }
  }
  out.comments = out.comments.filter((c) => Date.parse(c.createdAt) <= end.getTime());
  out.transactions = out.transactions.filter((x) => Date.parse(x.occurredAt) <= end.getTime());
  return out;
}
