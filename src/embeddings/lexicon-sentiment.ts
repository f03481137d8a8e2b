/**
 * A small English sentiment lexicon: the model-free baseline next to the embedding features (and what remains
 * when no model can be loaded). Negators flip the next few words; intensifiers scale the next word.
 * Score in [-1, 1]: tanh of the summed polarity, 0 when no lexicon word occurs.
 */
const POSITIVE: Record<string, number> = {
  good: 1, great: 1.5, excellent: 2, amazing: 2, awesome: 2, love: 2, loved: 2, loves: 2, like: 0.5, liked: 0.8,
  happy: 1.5, glad: 1, pleased: 1.5, satisfied: 1.5, perfect: 2, fantastic: 2, wonderful: 2, best: 1.5, nice: 1,
  fast: 0.8, quick: 0.8, easy: 0.8, recommend: 1.5, recommended: 1.5, helpful: 1, friendly: 1, quality: 0.5,
  beautiful: 1.5, comfortable: 1, fine: 0.5, thanks: 0.8, thank: 0.8, impressed: 1.5, reliable: 1, worth: 0.8,
};
const NEGATIVE: Record<string, number> = {
  bad: -1, poor: -1.2, terrible: -2, awful: -2, horrible: -2, worst: -2, hate: -2, hated: -2, angry: -1.8,
  disappointed: -1.5, disappointing: -1.5, broken: -1.5, damaged: -1.5, defective: -1.5, late: -1, slow: -0.8,
  delayed: -1, lost: -1, missing: -1, wrong: -1, refund: -0.8, cancel: -1, cancelled: -1, useless: -1.8,
  expensive: -0.8, overpriced: -1.2, rude: -1.5, problem: -1, problems: -1, issue: -0.8,
  complaint: -1.2, unhappy: -1.5, waste: -1.5, scam: -2, cheap: -0.3, return: -0.5, returned: -0.7, annoying: -1.2,
};
const NEGATORS = new Set(['not', 'no', 'never', 'without', 'hardly', 'barely', "don't", "didn't", "doesn't", "isn't", "wasn't",
  "aren't", "weren't", "won't", "wouldn't", "can't", "couldn't", 'dont', 'didnt', 'doesnt', 'isnt', 'wasnt', 'cant', 'wont', 'nothing']);
const INTENSIFIERS: Record<string, number> = { very: 1.5, really: 1.4, so: 1.3, extremely: 1.8, super: 1.5, totally: 1.4, absolutely: 1.6, too: 1.2 };
const NEGATION_SPAN = 3;

export function tokenizeWords(text: string): string[] {
  return text.toLowerCase().replace(/[’‘]/g, "'").match(/[a-z]+(?:'[a-z]+)?/g) ?? [];
}

export function lexiconSentiment(text: string): number {
  let sum = 0;
  let hits = 0;
  // Negation ends at clause punctuation: "not fast, but great" keeps "great" positive.
  for (const clause of text.split(/[.!?;,:]+/)) {
    let negateLeft = 0;
    let boost = 1;
    for (const w of tokenizeWords(clause)) {
      if (NEGATORS.has(w)) {
        negateLeft = NEGATION_SPAN;
        continue;
      }
      if (INTENSIFIERS[w]) {
        boost = INTENSIFIERS[w]!;
        continue;
      }
      const p = POSITIVE[w] ?? NEGATIVE[w];
      if (p !== undefined) {
        // "not bad" is mildly positive, "not good" clearly negative: flipped words count a little less.
        sum += (negateLeft > 0 ? -0.7 * p : p) * boost;
        hits++;
      }
      boost = 1;
      if (negateLeft > 0) negateLeft--;
    }
  }
  return hits ? Math.tanh(sum / 2) : 0;
}
