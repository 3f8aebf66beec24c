import type { Policy } from './types.js';

/**
 * The session as measured on 2026-11-25 (README, bench/results/bandwidth-2026-11-25T22-22-45-949Z):
 * session/node.ts passes limits.maxRequestsPerPeer (64), a request timeout of 10 + 2 s and an
 * in-flight cap of 2 s of the download limit to the scheduler; upload-policy.ts gives the choker
 * limits.uploadSlots (8) and no rates, the super-seeder 16 offers per peer, and drops the offers
 * the seeder makes when a peer is choked or leaves; every node ticks once a second.
 */
export const SESSION_2026_11_25: Policy = {
  name: 'session-2026-11-25',
  scheduler: (n) => ({ maxRequestsPerPeer: 64, requestTimeoutMs: 12_000, unresponsiveMs: 10_000, maxInflightBytes: 2 * n.down }),
  choker: () => ({ uploadSlots: 8 }),
  superSeeder: { offersPerPeer: 16 },
  feedRates: false,
  sendAllOffers: false,
  tickMs: 1000,
};

export const POLICIES: Record<string, Policy> = {
  [SESSION_2026_11_25.name]: SESSION_2026_11_25,
};

export const FIXED_OFFERS: Policy = { ...SESSION_2026_11_25, name: 'fixed-offers', sendAllOffers: true };
POLICIES[FIXED_OFFERS.name] = FIXED_OFFERS;
const shallow = (n: { down: number }) => ({ maxRequestsPerPeer: 64, requestTimeoutMs: 12_000, unresponsiveMs: 10_000, minRequestsPerPeer: 1, targetQueueMs: 500, maxInflightBytes: 0.5 * n.down });
POLICIES.best = { ...FIXED_OFFERS, name: 'best', feedRates: true, superSeeder: { offersPerPeer: 2 }, scheduler: shallow, choker: () => ({ uploadSlots: 4, evaluateIntervalMs: 2000 }) };
POLICIES.rot = { ...POLICIES.best!, name: 'rot', feedRates: false, choker: () => ({ uploadSlots: 4, evaluateIntervalMs: 2000, rank: 'rotate' }) };
POLICIES.rot8 = { ...POLICIES.best!, name: 'rot8', feedRates: false, choker: () => ({ uploadSlots: 8, evaluateIntervalMs: 2000, rank: 'rotate' }) };
POLICIES.rot4s5 = { ...POLICIES.best!, name: 'rot4s5', feedRates: false, choker: () => ({ uploadSlots: 4, evaluateIntervalMs: 5000, rank: 'rotate' }) };
