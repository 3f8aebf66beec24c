/**
 * How the bytes of one time step are shared among the transfers in progress: an approximation of
 * max-min fairness by progressive filling. Each uploader splits what it has left equally among its
 * flows (its token bucket serves the peer streams frame by frame, in turn); a downloader offered
 * more than it has left takes every offer in proportion (its bucket delays frames in arrival
 * order); what a saturated downloader leaves goes back to its uploaders' other flows in the next
 * round. Three rounds get within a few percent of the exact max-min share here.
 */
export class LinkShare {
  /** Per flow: uploader, downloader, bytes it could still use this step, bytes granted. */
  from: Int32Array;
  to: Int32Array;
  demand: Float64Array;
  grant: Float64Array;
  count = 0;
  private upLeft: Float64Array;
  private downLeft: Float64Array;
  private flowsOf: Int32Array;
  private offered: Float64Array;
  private offer = new Float64Array(0);

  constructor(nodes: number, capacity = 1024) {
    this.from = new Int32Array(capacity);
    this.to = new Int32Array(capacity);
    this.demand = new Float64Array(capacity);
    this.grant = new Float64Array(capacity);
    this.upLeft = new Float64Array(nodes);
    this.downLeft = new Float64Array(nodes);
    this.flowsOf = new Int32Array(nodes);
    this.offered = new Float64Array(nodes);
  }

  reset(): void {
    this.count = 0;
  }

  add(from: number, to: number, demand: number): void {
    if (this.count === this.from.length) this.grow();
    const k = this.count++;
    this.from[k] = from;
    this.to[k] = to;
    this.demand[k] = demand;
    this.grant[k] = 0;
  }

  /** Fills `grant` for the flows added since reset(); budgets are bytes for this step, per node. */
  allocate(upBudget: ArrayLike<number>, downBudget: ArrayLike<number>, rounds = 3): void {
    const n = this.count;
    const { from, to, demand, grant, upLeft, downLeft, flowsOf, offered } = this;
    if (this.offer.length < n) this.offer = new Float64Array(this.from.length);
    const offer = this.offer;
    for (let k = 0; k < n; k++) {
      upLeft[from[k]!] = upBudget[from[k]!]!;
      downLeft[to[k]!] = downBudget[to[k]!]!;
    }
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < n; k++) {
        flowsOf[from[k]!] = 0;
        offered[to[k]!] = 0;
      }
      let open = 0;
      for (let k = 0; k < n; k++) {
        if (demand[k]! - grant[k]! > 1e-9 && upLeft[from[k]!]! > 1e-9 && downLeft[to[k]!]! > 1e-9) {
          flowsOf[from[k]!]!++;
          open++;
        }
      }
      if (open === 0) break;
      for (let k = 0; k < n; k++) {
        const want = demand[k]! - grant[k]!;
        const u = from[k]!;
        if (want <= 1e-9 || upLeft[u]! <= 1e-9 || downLeft[to[k]!]! <= 1e-9) {
          offer[k] = 0;
          continue;
        }
        offer[k] = Math.min(want, upLeft[u]! / flowsOf[u]!);
        offered[to[k]!]! += offer[k]!;
      }
      for (let k = 0; k < n; k++) {
        const o = offer[k]!;
        if (o === 0) continue;
        const v = to[k]!;
        const got = offered[v]! > downLeft[v]! ? (o * downLeft[v]!) / offered[v]! : o;
        grant[k]! += got;
        upLeft[from[k]!]! -= got;
      }
      for (let k = 0; k < n; k++) {
        const v = to[k]!;
        if (offered[v]! > 0) {
          downLeft[v] = Math.max(0, downLeft[v]! - Math.min(offered[v]!, downLeft[v]!));
          offered[v] = 0;
        }
      }
    }
  }

  private grow(): void {
    const cap = this.from.length * 2;
    const f = new Int32Array(cap);
    f.set(this.from);
    this.from = f;
    const t = new Int32Array(cap);
    t.set(this.to);
    this.to = t;
    const d = new Float64Array(cap);
    d.set(this.demand);
    this.demand = d;
    const g = new Float64Array(cap);
    g.set(this.grant);
    this.grant = g;
  }
}
