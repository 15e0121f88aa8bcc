// The Kurento Agent's requests (KU-2..KU-6) as a table of fields and rules,
// for one media mode: 'mesh' (the default) or 'sfu' (--media kurento, here
// against the fake KMS). Ann publishes, Bob subscribes to her; each request
// is sent by the one who can make it succeed, so a refusal is about the field.
import { Peer, at, field } from './harness.mjs';
import { OK, bad, error, oneOf } from './outcomes.mjs';
import { string, boolean, optional, anything, alwaysBad, regardless, streamName } from './rules.mjs';
import { OFFER, RECV_OFFER, ANSWER, CANDIDATE } from '../../node/lib/sdp.mjs';

export const ROOM = 3000;


const ku = (data) => ({ name: 'server_message', args: [{ type: 'kurento', data }] });

/** The peers: Ann (publishing) and Bob (subscribed to Ann), in ROOM. */
export async function kurentoSetup(t, mode) {
  const a = await Peer.open(t, 'Ann');
  const b = await Peer.open(t, 'Bob');
  await a.must('join_room', { room: ROOM });
  await b.must('join_room', { room: ROOM });
  const ctx = { a, b, mode };
  await publishAnn(ctx);
  await subscribeBob(ctx);
  return ctx;
}

const offerFor = (mode) => (mode === 'sfu' ? OFFER : null);
const publishAnn = (ctx) => ctx.a.must('server_message', ku({ action: 'publish', sdp: offerFor(ctx.mode), audio: true, video: true }).args[0]);
const subscribeBob = (ctx) => ctx.b.must('server_message', ku({ action: 'subscribe', user: ctx.a.id, sdp: RECV_OFFER }).args[0]);
const send = (peer, data) => peer.must('server_message', { type: 'kurento', data });
// A step whose outcome does not matter (its errors stay in its own window).
const attempt = (peer, data) => peer.request('server_message', { type: 'kurento', data });

export function kurentoRequests(mode) {
  const sfu = mode === 'sfu';
  // What a media server may say to a string it is handed (KU-7: its refusal
  // comes back as unavailable); the server may also refuse the value itself.
  const mediaString = (name) => () => (sfu ? oneOf(OK, error('unavailable'), bad(name)) : OK);
  const NOT_SUPPORTED = error('not_supported');
  // `stream` (stream names): Ann and Bob publish only their cameras, so any
  // other name is refused where it must name an existing stream.
  const noSuchStream = field('stream', at('data', 'stream'), streamName(bad('stream')));

  return [
    {
      name: 'kurento action',
      actor: (ctx) => ctx.a,
      event: () => ku({ action: 'update_stream', audio: true, video: true }),
      fields: [
        field('action', at('data', 'action'), () => bad('action')),
        field('data', at('data'), () => bad(['data', 'action'])),
      ],
    },
    {
      name: 'publish {sdp, audio, video}',
      actor: (ctx) => ctx.b,
      event: () => ku({ action: 'publish', sdp: offerFor(mode), audio: true, video: true }),
      // a valid name ("x", "1") publishes that stream: every one goes again
      undo: async (ctx) => { for (const stream of [undefined, 'x', '1']) await attempt(ctx.b, { action: 'unpublish', stream }); },
      fields: [
        field('stream', at('data', 'stream'), streamName(OK)),
        // mesh: sdp is null (a string is not used); sfu: the offer, required
        field('sdp', at('data', 'sdp'), sfu
          ? string('sdp', { ok: mediaString('sdp'), allowEmpty: true })
          : optional('sdp', string('sdp', { allowEmpty: true }))),
        field('audio', at('data', 'audio'), optional('audio', boolean('audio'))),
        field('video', at('data', 'video'), optional('video', boolean('video'))),
      ],
    },
    {
      name: 'subscribe {user, sdp}',
      actor: (ctx) => ctx.b,
      event: (ctx) => ku({ action: 'subscribe', user: ctx.a.id, sdp: RECV_OFFER }),
      ensure: subscribeBob,
      fields: [
        field('user', at('data', 'user'), alwaysBad('user')),
        field('sdp', at('data', 'sdp'), string('sdp', { ok: mediaString('sdp'), allowEmpty: true })),
        noSuchStream,
      ],
    },
    {
      name: 'subscribe_answer {user, sdp}',
      actor: (ctx) => ctx.a,
      event: (ctx) => ku({ action: 'subscribe_answer', user: ctx.b.id, sdp: ANSWER }),
      // mesh: Bob's request must be waiting for each answer
      prepare: sfu ? undefined : subscribeBob,
      ensure: subscribeBob,
      fields: sfu
        ? [field('user', at('data', 'user'), regardless('user', NOT_SUPPORTED)),
          field('sdp', at('data', 'sdp'), regardless('sdp', NOT_SUPPORTED))]
        : [field('user', at('data', 'user'), alwaysBad('user')),
          field('sdp', at('data', 'sdp'), string('sdp', { allowEmpty: true })),
          noSuchStream],
    },
    {
      // only with a media server that offers (Janus); not_supported in mesh and kurento
      name: 'answer {user, sdp}',
      actor: (ctx) => ctx.b,
      event: (ctx) => ku({ action: 'answer', user: ctx.a.id, sdp: ANSWER }),
      fields: [
        field('user', at('data', 'user'), regardless('user', NOT_SUPPORTED)),
        field('sdp', at('data', 'sdp'), regardless('sdp', NOT_SUPPORTED)),
        field('stream', at('data', 'stream'), regardless('stream', NOT_SUPPORTED)),
      ],
    },
    {
      name: 'ice_candidate {user, peer, candidate}',
      actor: (ctx) => ctx.b,
      event: (ctx) => ku({ action: 'ice_candidate', user: ctx.a.id, peer: ctx.a.id, candidate: CANDIDATE }),
      ensure: subscribeBob,
      fields: [
        field('user', at('data', 'user'), alwaysBad('user')),
        noSuchStream,
        // mesh: the other end, required; sfu: not used
        field('peer', at('data', 'peer'), sfu ? optional('peer', regardless('peer', OK)) : alwaysBad('peer')),
        // an RTCIceCandidateInit object (null: the end of candidates)
        field('candidate', at('data', 'candidate'), (v) => {
          if (v.kind === 'object') return OK;
          if (v.kind === 'null') return oneOf(OK, bad('candidate'));
          return bad('candidate');
        }),
        field('candidate.candidate', at('data', 'candidate', 'candidate'), optional('candidate',
          string('candidate', { allowEmpty: true, ok: (v) => (v.overText ? oneOf(OK, bad('candidate')) : OK) }))),
        field('candidate.sdpMid', at('data', 'candidate', 'sdpMid'), optional('sdpMid',
          string('sdpMid', { allowEmpty: true, ok: (v) => (v.overText ? oneOf(OK, bad('sdpMid')) : OK) }))),
        // an m-line index: small integers are right; where the server draws the line is its choice
        field('candidate.sdpMLineIndex', at('data', 'candidate', 'sdpMLineIndex'), optional('sdpMLineIndex', (v) => {
          if (v.kind === 'int' && v.int >= 0n && v.int <= 1n) return OK;
          if (v.kind === 'int' && v.int >= 0n && v.int <= 65535n) return oneOf(OK, bad('sdpMLineIndex'));
          return bad('sdpMLineIndex');
        })),
      ],
    },
    {
      name: 'unpublish',
      actor: (ctx) => ctx.a,
      event: () => ku({ action: 'unpublish' }),
      undo: async (ctx) => { await publishAnn(ctx); await subscribeBob(ctx); },
      fields: [field('x (not a field of unpublish: ignored)', at('data', 'x'), anything(OK)), noSuchStream],
    },
    {
      name: 'unsubscribe {user}',
      actor: (ctx) => ctx.b,
      event: (ctx) => ku({ action: 'unsubscribe', user: ctx.a.id }),
      ensure: subscribeBob,
      undo: subscribeBob,  // a null or missing stream is the camera: Bob is unsubscribed
      fields: [field('user', at('data', 'user'), alwaysBad('user')), noSuchStream],
    },
    {
      name: 'update_stream {audio, video}',
      actor: (ctx) => ctx.a,
      event: () => ku({ action: 'update_stream', audio: true, video: true }),
      fields: [
        field('audio', at('data', 'audio'), optional('audio', boolean('audio'))),
        field('video', at('data', 'video'), optional('video', boolean('video'))),
        noSuchStream,
      ],
    },
    {
      name: 'set_filter {filter}',
      actor: (ctx) => ctx.a,
      event: () => ku({ action: 'set_filter', filter: 'videoflip method=horizontal-flip' }),
      fields: [field('filter', at('data', 'filter'), sfu
        ? string('filter', {
          allowEmpty: true,
          ok: (v) => (v.str === '' ? OK : v.overText ? oneOf(OK, bad('filter')) : oneOf(OK, error('unavailable'), bad('filter'))),
        })
        // mesh: no filters at all; the server may check the field first
        : regardless('filter', NOT_SUPPORTED))],
    },
    {
      name: 'record_start',
      actor: (ctx) => ctx.a,
      event: () => ku({ action: 'record_start' }),
      undo: sfu ? (ctx) => send(ctx.a, { action: 'record_stop' }) : undefined,
      // record_* take no filter: one sent is ignored
      fields: [field('filter (not a field of record_start: ignored)', at('data', 'filter'), anything(sfu ? OK : NOT_SUPPORTED)),
        // the camera (null or missing) records in sfu and is not_supported in mesh; no other stream is published
        field('stream', at('data', 'stream'), optional('stream', alwaysBad('stream'), sfu ? OK : NOT_SUPPORTED))],
    },
    {
      name: 'record_stop',
      actor: (ctx) => ctx.a,
      event: () => ku({ action: 'record_stop' }),
      prepare: sfu ? (ctx) => attempt(ctx.a, { action: 'record_start' }) : undefined,
      fields: [field('filter (not a field of record_stop: ignored)', at('data', 'filter'), anything(sfu ? OK : NOT_SUPPORTED))],
    },
  ];
}
