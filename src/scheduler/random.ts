/**
 * A small seeded generator (mulberry32) so that tie-breaks are reproducible in tests and in a
 * recorded run; the session may equally pass Math.random.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates on a copy: the order random tie-breaks start from. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Keeps the candidate with the lowest key; equal keys are broken uniformly at random by
 * reservoir sampling, so the result depends only on the seed and the candidates' order.
 */
export class LowestPick {
  index: number | undefined;
  private key = Number.POSITIVE_INFINITY;
  private ties = 0;

  constructor(private readonly random: () => number) {}

  /** Lets a scan skip costly checks for a candidate that would lose anyway. */
  beats(key: number): boolean {
    return key <= this.key;
  }

  offer(index: number, key: number): void {
    if (key < this.key) {
      this.index = index;
      this.key = key;
      this.ties = 1;
    } else if (key === this.key) {
      this.ties++;
      if (this.random() * this.ties < 1) this.index = index;
    }
  }
}
