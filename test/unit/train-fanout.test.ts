import { TREES_PER_PARTICIPANT, defaultFanout } from '../../src/jobs/flows/train.flow';
import { historiesId } from '../../src/jobs/flows/train-fits';

describe('default training fan-out', () => {
  it('takes the configured number of workers only where the trees are worth a participant each', () => {
    expect(defaultFanout(4, 100)).toBe(4);
    expect(defaultFanout(8, 100)).toBe(100 / TREES_PER_PARTICIPANT);
    expect(defaultFanout(2, 49)).toBe(1);
    expect(defaultFanout(2, 50)).toBe(2);
    // Few trees: the duplicated loading would cost more than the trees save.
    expect(defaultFanout(4, 10)).toBe(1);
    // The model's default forest (100 trees) when the request names none.
    expect(defaultFanout(3, undefined)).toBe(3);
    expect(defaultFanout(1, 1000)).toBe(1);
  });
});

describe('identity of loaded histories (the namespace of shared baseline fits)', () => {
  const base = [
    { key: '1', events: [{ at: 1000, amount: 20, kind: 'purchase' as const }, { at: 2000, amount: 35.5, kind: 'purchase' as const }], attrs: {} },
    { key: '2', events: [{ at: 1500, amount: 12, kind: 'purchase' as const }], attrs: {} },
  ];
  it('is the same for the same data read twice and differs when a transaction was added or changed', () => {
    const copy = base.map((h) => ({ ...h, events: h.events.map((e) => ({ ...e })) }));
    expect(historiesId(copy)).toBe(historiesId(base));
    const added = base.map((h, i) => (i === 1 ? { ...h, events: [...h.events, { at: 1800, amount: 5, kind: 'purchase' as const }] } : h));
    expect(historiesId(added)).not.toBe(historiesId(base));
    const changed = base.map((h, i) => (i === 0 ? { ...h, events: [h.events[0]!, { ...h.events[1]!, amount: 36 }] } : h));
    expect(historiesId(changed)).not.toBe(historiesId(base));
    expect(historiesId(base.slice(0, 1))).not.toBe(historiesId(base));
  });
});
