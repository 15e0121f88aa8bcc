// SDP and ICE fixtures for media-server tests: a publisher's offer (audio and
// video, sendonly), a subscriber's offer (recvonly), an answer, one candidate.
export const OFFER = [
  'v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=mid:0', 'a=sendonly', 'a=rtpmap:111 opus/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=mid:1', 'a=sendonly', 'a=rtpmap:96 VP8/90000', '',
].join('\r\n');
export const RECV_OFFER = OFFER.replaceAll('a=sendonly', 'a=recvonly');
export const ANSWER = OFFER.replace('a=sendonly', 'a=recvonly');
export const CANDIDATE = { candidate: 'candidate:9 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0', sdpMLineIndex: 0 };
