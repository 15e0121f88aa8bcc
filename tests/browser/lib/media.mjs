// What a page receives, read from WebRTC statistics, for the video tests
// (tests/browser/video.test.mjs, mesh) and the Janus media test
// (tests/janus-media/, through a media server). The receiver behind a tile is
// the one whose track plays in that tile; recordPeerConnections() (harness.mjs)
// keeps the page's RTCPeerConnections in window.__testPeerConnections.
//
// Waits poll from Node: page.waitForFunction does not await an async predicate
// (the Promise it returns is truthy), so it would not wait for getStats().
import { TIMEOUT } from './harness.mjs';

/** Polls `check` (sync or async) until it returns a truthy value, which it resolves to; bounded by `timeout`. */
export async function waitFor(check, what, timeout = TIMEOUT, interval = 100) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

/**
 * Per user id: the largest inbound-rtp `field` of `kind` ('video' or 'audio')
 * among the receivers of that user's tile track; 0 when none. For video, also 0
 * until the picture reaches the tile's <video> (videoWidth > 0).
 */
export function readReceived(page, userIds, kind, field) {
  return page.evaluate(async ({ userIds, kind, field }) => {
    const counts = {};
    for (const id of userIds) {
      counts[id] = 0;
      const video = document.querySelector(`[data-testid="video-tile"][data-user="${id}"] video`);
      const stream = video?.srcObject;
      const track = kind === 'video' ? stream?.getVideoTracks()[0] : stream?.getAudioTracks()[0];
      if (!track) continue;
      for (const pc of window.__testPeerConnections ?? []) {
        if (pc.connectionState === 'closed') continue;
        const receiver = pc.getReceivers().find((r) => r.track === track);
        if (!receiver) continue;
        (await receiver.getStats()).forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === kind) counts[id] = Math.max(counts[id], s[field] ?? 0);
        });
      }
      if (kind === 'video' && !(video.videoWidth > 0)) counts[id] = 0;
    }
    return counts;
  }, { userIds, kind, field });
}

async function waitForMore(page, userIds, kind, field, what, { above = {}, timeout }) {
  let last = {};
  try {
    return await waitFor(async () => {
      last = await readReceived(page, userIds, kind, field);
      return userIds.every((id) => last[id] > (above[id] ?? 0)) && last;
    }, `${what} from users ${userIds.join(', ')}`, timeout, 250);
  } catch (e) {
    e.message += ` (${field}: ${JSON.stringify(last)}, before: ${JSON.stringify(above)})`;
    throw e;
  }
}

/** Frames decoded from each of `userIds`; resolves once every count is above `above` (a previous reading). */
export const waitForDecodedVideo = (page, userIds, { above, timeout = 20_000 } = {}) =>
  waitForMore(page, userIds, 'video', 'framesDecoded', 'decoded video', { above, timeout });

/** Audio samples received from each of `userIds`; resolves once every count is above `above`. */
export const waitForAudio = (page, userIds, { above, timeout = 20_000 } = {}) =>
  waitForMore(page, userIds, 'audio', 'totalSamplesReceived', 'audio', { above, timeout });

/**
 * Per key: the largest inbound-rtp video framesDecoded among the receivers of
 * the MediaStream `window[variable][key]` holds (a test page keeps the streams
 * its connection agent reports there); 0 when it has none.
 */
export function readStreamFrames(page, variable, keys) {
  return page.evaluate(async ({ variable, keys }) => {
    const counts = {};
    for (const key of keys) {
      counts[key] = 0;
      const track = window[variable]?.[key]?.getVideoTracks()[0];
      if (!track) continue;
      for (const pc of window.__testPeerConnections ?? []) {
        if (pc.connectionState === 'closed') continue;
        const receiver = pc.getReceivers().find((r) => r.track === track);
        if (!receiver) continue;
        (await receiver.getStats()).forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') counts[key] = Math.max(counts[key], s.framesDecoded ?? 0);
        });
      }
    }
    return counts;
  }, { variable, keys });
}

/** Waits until every key's decoded frames are above `above` (a previous reading); resolves to the reading. */
export async function waitForStreamFrames(page, variable, keys, { above = {}, timeout = 20_000 } = {}) {
  let last = {};
  try {
    return await waitFor(async () => {
      last = await readStreamFrames(page, variable, keys);
      return keys.every((k) => last[k] > (above[k] ?? 0)) && last;
    }, `decoded video of ${keys.join(', ')}`, timeout, 250);
  } catch (e) {
    e.message += ` (framesDecoded: ${JSON.stringify(last)}, before: ${JSON.stringify(above)})`;
    throw e;
  }
}

/**
 * Screen-sharing tests drive the WASM package's media API on a page of the
 * server's origin (not the web app): connects a connection agent of its own
 * as `name`, joins `room`, keeps every remote stream in window.__remote under
 * "<user>/<stream name>" and the room's stream list in window.__streams, and
 * publishes the (fake) camera. Resolves to the user id.
 */
export function joinWithAgent(page, name, room) {
  return page.evaluate(async ({ name, room }) => {
    const { createConnectionAgent } = await import('/wasm/compeit.mjs');
    const ca = await createConnectionAgent();
    window.__ca = ca;
    window.__remote = {};
    window.__streams = [];
    ca.on('remote_stream', ({ user, name: stream, mediaStream }) => { window.__remote[`${user}/${stream}`] = mediaStream; });
    ca.on('remote_stream_removed', ({ user, name: stream }) => { delete window.__remote[`${user}/${stream}`]; });
    ca.on('streams', ({ streams }) => { window.__streams = streams; });
    const user = await ca.connect(location.origin, { name });
    await ca.joinRoom(room);
    await ca.media.start({ audio: true, video: true });
    await ca.media.publish({ audio: true, video: true });
    return user.id;
  }, { name, room });
}

/**
 * Shares a drawn "screen" with media.shareScreen({mediaStream}): a canvas with
 * a moving bar (every frame differs), since headless Chromium has no desktop to
 * capture. Resolves to {tracks, mine}: the screen's video tracks and the page's
 * local streams.
 */
export function shareCanvasScreen(page) {
  return page.evaluate(async () => {
    const canvas = Object.assign(document.createElement('canvas'), { width: 640, height: 360 });
    const g = canvas.getContext('2d');
    let x = 0;
    window.__draw = setInterval(() => {
      g.fillStyle = '#123'; g.fillRect(0, 0, 640, 360);
      g.fillStyle = '#fc0'; g.fillRect((x += 8) % 640, 100, 80, 160);
    }, 40);
    const screen = await window.__ca.media.shareScreen({ mediaStream: canvas.captureStream(25) });
    return { tracks: screen.getVideoTracks().length, mine: window.__ca.media.localStreams.size };
  });
}

/** Stops the share started by shareCanvasScreen. */
export const stopCanvasScreen = (page) => page.evaluate(() => { window.__ca.media.stopScreen(); clearInterval(window.__draw); });

/** Whether `page`'s stream list has `user`'s stream named `stream`. */
export const listsStream = (page, user, stream) =>
  page.evaluate(({ user, stream }) => window.__streams.some((s) => s.user === user && s.stream === stream), { user, stream });
