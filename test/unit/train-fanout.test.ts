import { TREES_PER_PARTICIPANT, defaultFanout } from '../../src/jobs/flows/train.flow';

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
