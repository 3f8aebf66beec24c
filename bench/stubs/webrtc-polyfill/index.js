// Stand-in for webrtc-polyfill (see package.json): the names webtorrent's dependencies import,
// as empty classes. The benchmark turns WebRTC off, so none of them is ever constructed.
export class RTCPeerConnection {}
export class RTCSessionDescription {}
export class RTCIceCandidate {}
export class RTCIceTransport {}
export class RTCDataChannel {}
export class RTCSctpTransport {}
export class RTCDtlsTransport {}
export class RTCCertificate {}
export class MediaStream {}
export class MediaStreamTrack {}
export class RTCError extends Error {}
export class RTCPeerConnectionIceEvent {}
export class RTCDataChannelEvent {}
export default {
  RTCPeerConnection, RTCSessionDescription, RTCIceCandidate, RTCIceTransport, RTCDataChannel,
  RTCSctpTransport, RTCDtlsTransport, RTCCertificate, MediaStream, MediaStreamTrack, RTCError,
  RTCPeerConnectionIceEvent, RTCDataChannelEvent,
};
