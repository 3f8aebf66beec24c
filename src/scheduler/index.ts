/**
 * Pure piece scheduling for the session: events in, wire actions out, time from an injected Clock.
 * Downloading: one PieceScheduler per release fetch. Uploading: one Choker per node, fed with
 * RateMeter rates. Publishing: a SuperSeeder decides which `have`s to send and serve/defer, and is
 * told of the publisher's own choke decisions.
 */
export type {
  Action,
  ChokeAction,
  DownloadProgress,
  DownloadWaiting,
  OfferAction,
  PeerDownloadStats,
  PeerId,
  PieceSet,
  RequestFailure,
  SchedulerAction,
} from './types.js';
export { DEFAULT_SCHEDULER_OPTIONS, checkSchedulerOptions, type SchedulerOptions } from './options.js';
export { PieceScheduler, type PieceSchedulerInit } from './piece-scheduler.js';
export { SuperSeeder, DEFAULT_SUPER_SEEDER_OPTIONS, type SuperSeederOptions, type ServeDecision } from './super-seeder.js';
export { Choker, DEFAULT_CHOKER_OPTIONS, type ChokerOptions, type PeerRates } from './choker.js';
export { RateMeter } from './rate-meter.js';
export { Availability } from './availability.js';
export { bitfieldHas, toBitfield, piecesOf } from './bitfield.js';
export { seededRandom, shuffled } from './random.js';
