import type { Policy } from './types.js';

/**
 * The session as measured on 2026-11-25 (README, bench/results/bandwidth-2026-11-25T22-22-45-949Z),
 * with the module defaults of then pinned: session/node.ts passed limits.maxRequestsPerPeer (64), a
 * request timeout of 10 + 2 s and 2 s of the download cap in flight to the scheduler (whose
 * pipelines were 2 requests at least and 2 s deep); upload-policy.ts gave the choker
 * limits.uploadSlots (8), re-ranked every 10 s by rates it never fed (a random draw), the
 * super-seeder 16 offers per peer, and dropped the offers the seeder made on a choke or departure.
 */
export const AS_MEASURED: Policy = {
  name: 'session-2026-11-25',
  description: 'the code and settings of the real run of 2026-11-25 (8 upload slots drawn at random every 10 s; pipelines of 2+ requests, 2 s deep; 16 offers per peer, those made on a choke dropped).',
  scheduler: (n) => ({ maxRequestsPerPeer: 64, requestTimeoutMs: 12_000, unresponsiveMs: 10_000, maxInflightBytes: 2 * n.down, minRequestsPerPeer: 2, targetQueueMs: 2000 }),
  choker: () => ({ uploadSlots: 8, evaluateIntervalMs: 10_000, rank: 'rate' }),
  superSeeder: { offersPerPeer: 16, tailReservations: 1 },
  feedRates: false,
  sendAllOffers: false,
  tickMs: 1000,
  objectClients: Infinity,
  reportUnchokers: false,
  laterHaves: false,
};

/** The same with only the dropped offers fixed. */
export const OFFERS_FIXED: Policy = {
  ...AS_MEASURED,
  name: 'offers-fixed',
  description: 'as measured, with the super-seeder offers made on a choke or a departure sent.',
  sendAllOffers: true,
};

/** This branch: the session's settings unchanged, the module defaults new, the offers sent (the super-seeder's of 2026-12-02: no tail reservations). */
export const THIS_BRANCH: Policy = {
  name: 'this-branch',
  description: 'offers sent; the super-seeder\'s default 2 offers per peer; pipelines of 1+ request, 0.5 s deep; upload slots in 5 s turns (choker rank "rotate").',
  scheduler: (n) => ({ maxRequestsPerPeer: 64, requestTimeoutMs: 12_000, unresponsiveMs: 10_000, maxInflightBytes: 2 * n.down }),
  choker: () => ({ uploadSlots: 8 }),
  superSeeder: { tailReservations: 1 },
  feedRates: false,
  sendAllOffers: true,
  tickMs: 1000,
  objectClients: Infinity,
  reportUnchokers: false,
  laterHaves: false,
};

/**
 * The session of 2026-12-02 06:00: the publisher keeps ~4 MiB of offers open over its unchoked
 * peers (upload-policy.ts), 64 pieces at the 64 KiB of a 16 MB release.
 */
export const OFFER_WINDOW: Policy = {
  ...THIS_BRANCH,
  name: 'offer-window',
  description: 'as this-branch, with the publisher\'s offers a window of 64 pieces (~4 MiB) spread over its unchoked peers, at least 2 each.',
  superSeeder: { offerBudget: 64, tailReservations: 1 },
};

/** offer-window with `limits.objectClients: 8`: the publisher answers the object requests of 8 nodes at a time. */
export const OBJECT_CLIENTS: Policy = {
  ...OFFER_WINDOW,
  name: 'object-clients',
  description: 'as offer-window, with the publisher sending objects to 8 nodes at a time; the others ask again, mostly of those.',
  objectClients: 8,
};

/**
 * offer-window with the super-seeder's tail of 2026-12-03 (tailReservations 2, its default): once
 * every piece is held or reserved, the publisher's unchoked peers with room in their windows get
 * second reservations of the pieces nobody holds yet, and the first to ask takes each.
 */
export const TAIL_OFFERS: Policy = {
  ...OFFER_WINDOW,
  name: 'tail-offers',
  description: 'as offer-window, with the publisher\'s last unheld pieces reserved for a second unchoked peer (the first to ask takes each).',
  superSeeder: { offerBudget: 64 },
};

/** The session of 2026-12-03: tail-offers, with half a second of the download cap in flight (rollout.ts), not 2 s. */
export const INFLIGHT_HALF: Policy = {
  ...TAIL_OFFERS,
  name: 'inflight-half',
  description: 'as tail-offers, with half a second of the download cap in flight (a peer\'s first request may take it to a second), not 2 s.',
  scheduler: (n) => ({ ...THIS_BRANCH.scheduler(n), maxInflightBytes: 0.5 * n.down }),
};

/**
 * The session of 2026-12-04: inflight-half, and each downloader tells its peers how many of them
 * unchoke it; a free upload slot goes to the waiting peer that the fewest unchoke, then to the one
 * that has waited longest.
 */
export const LEAST_SERVED: Policy = {
  ...INFLIGHT_HALF,
  name: 'least-served',
  description: 'as inflight-half, with every downloader reporting how many peers unchoke it, and a free upload slot going to the waiting peer that the fewest unchoke.',
  reportUnchokers: true,
};

/**
 * least-served with `limits.objectClients: 2` (not the default: see the README, Scale):
 * the publisher answers the object requests of 2 nodes at a time; a node turned away asks again,
 * of the nodes that have their objects by then (session/object-fetch.ts asks only the peers on
 * the release while there are any).
 */
export const TWO_OBJECT_CLIENTS: Policy = {
  ...LEAST_SERVED,
  name: 'two-object-clients',
  description: 'as least-served, with the publisher sending objects to 2 nodes at a time; the others ask again, of the nodes that have them by then.',
  objectClients: 2,
};

/**
 * The session of 2026-12-04 23:40: least-served, and a node tells a peer it chokes of its new
 * pieces at its next tick (or before the unchoke), a peer that holds the piece never.
 */
export const LATER_HAVES: Policy = {
  ...LEAST_SERVED,
  name: 'later-haves',
  description: 'as least-served, with the haves to a peer the node chokes sent at its next tick or before the unchoke, and none to a peer that holds the piece.',
  laterHaves: true,
};

/** What src/session runs now: the policy npm run sim compares with the real runs and scales up by default. */
export const CURRENT: Policy = LATER_HAVES;

export const POLICIES: Record<string, Policy> = Object.fromEntries([AS_MEASURED, OFFERS_FIXED, THIS_BRANCH, OFFER_WINDOW, OBJECT_CLIENTS, TAIL_OFFERS, INFLIGHT_HALF, LEAST_SERVED, TWO_OBJECT_CLIENTS, LATER_HAVES].map((p) => [p.name, p]));

