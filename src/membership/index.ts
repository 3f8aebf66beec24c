export { MembershipBook, membershipPath, type MembershipVerdict, type MembershipBookOptions, type MembershipSigner } from './book.js';
export { decodeMembership, encodeMembership, signMembership, type Member, type MembershipBody, type MembershipRecord } from './record.js';
export { nodeSeed, nodeKeyPair, joinKeyPair, type KeyPair } from './identity.js';
export { encodeToken, decodeToken, tokenBootstrap, TOKEN_PREFIX, type JoinToken } from './token.js';
export { InvitationStore, redeemRefusal, type Invitation, type InvitationState } from './invitations.js';
// The join service and joinNode() load the networking stack: import them from their files
// (join-server.js, join-node.js) where needed, so that this face stays quick to load.
export type { JoinNodeOptions, JoinNodeResult } from './join-node.js';
export {
  MembershipAdmin,
  isMembershipCommand,
  type MembershipCommand,
  type MembershipCommandResults,
  type MembershipView,
  type TokenCreated,
  type InvitationView,
} from './commands.js';
