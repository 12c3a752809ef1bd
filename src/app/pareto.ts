// Pareto fronts of two objectives (one maximised, one minimised): which points no other point dominates.

/**
 * Indices of the non-dominated items, in input order. Item q dominates p when q is at least as good in both
 * objectives (gain(q) >= gain(p), cost(q) <= cost(p)) and strictly better in one. Items with equal gain and cost do
 * not dominate each other (both stay on the front). Items with a non-finite gain or cost are never on the front and
 * dominate nothing. With `tieBreak`, of the items tied in both objectives only the least under tieBreak stay (all of
 * them when tieBreak says they are equal): e.g. of hardware points with the same accuracy and energy, the smallest.
 * O(n log n): sweep by cost ascending, keeping the best gain of strictly cheaper items.
 */
export function paretoFront<T>(items: readonly T[], gain: (t: T) => number, cost: (t: T) => number, tieBreak?: (a: T, b: T) => number): number[] {
  const idx = items.map((_, i) => i).filter((i) => Number.isFinite(gain(items[i])) && Number.isFinite(cost(items[i])));
  idx.sort((a, b) => cost(items[a]) - cost(items[b]) || gain(items[b]) - gain(items[a]));
  const front: number[] = [];
  let bestCheaper = -Infinity; // best gain among items strictly cheaper than the current cost group
  for (let s = 0; s < idx.length; ) {
    const c = cost(items[idx[s]]);
    let e = s;
    while (e < idx.length && cost(items[idx[e]]) === c) e++;
    const groupBest = gain(items[idx[s]]); // sorted by gain descending within the group
    if (groupBest > bestCheaper) {
      const tied: number[] = [];
      for (let j = s; j < e && gain(items[idx[j]]) === groupBest; j++) tied.push(idx[j]);
      if (tieBreak) {
        const least = tied.reduce((m, i) => (tieBreak(items[i], items[m]) < 0 ? i : m), tied[0]);
        front.push(...tied.filter((i) => tieBreak(items[i], items[least]) === 0));
      } else {
        front.push(...tied);
      }
    }
    bestCheaper = Math.max(bestCheaper, groupBest);
    s = e;
  }
  return front.sort((a, b) => a - b);
}

/** Whether q dominates p (see paretoFront). */
export function dominates(gq: number, cq: number, gp: number, cp: number): boolean {
  return gq >= gp && cq <= cp && (gq > gp || cq < cp);
}
