// One tile of the video grid: a person's video (or a placeholder while their
// camera is off or their media is on its way), their name, a mic-off mark, a
// recording mark and a filter mark.
// Names only ever reach the page through textContent.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** A small stroke icon; `paths` are SVG path data strings. */
function icon(paths, className = 'icon-svg') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', className);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of paths) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

const MIC = ['M9 5a3 3 0 0 1 6 0v6a3 3 0 0 1-6 0z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3'];
const CAMERA = ['M3 7h12v10H3z', 'M15 10l6-3v10l-6-3'];
const SLASH = ['M4 3l16 18'];
const STOP = ['M6 6l12 12', 'M18 6L6 18'];
const RECORD = ['M12 7a5 5 0 1 1 0 10a5 5 0 1 1 0-10z'];
const SLIDERS = ['M4 6h10', 'M18 6h2', 'M4 12h4', 'M12 12h8', 'M4 18h12', 'M20 18h0',
  'M16 4v4', 'M10 10v4', 'M18 16v4'];
const SCREEN = ['M3 5h18v11H3z', 'M8 20h8', 'M12 16v4'];
const CHEVRON_UP = ['M6 15l6-6 6 6'];
const CHEVRON_DOWN = ['M6 9l6 6 6-6'];
export const icons = {
  stop: () => icon(STOP),
  mic: () => icon(MIC),
  micOff: () => icon([...MIC, ...SLASH]),
  camera: () => icon(CAMERA),
  cameraOff: () => icon([...CAMERA, ...SLASH]),
  record: () => icon(RECORD),
  devices: () => icon(SLIDERS),
  screen: () => icon(SCREEN),
  fold: () => icon(CHEVRON_UP),
  unfold: () => icon(CHEVRON_DOWN),
};

/** A button's content: an icon and its label (the label stays for screen readers when CSS hides it). */
export function setButton(button, svg, text) {
  if (button.dataset.label === text) return;
  button.dataset.label = text;
  const label = document.createElement('span');
  label.className = 'btn-label';
  label.textContent = text;
  button.replaceChildren(svg, label);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function hue(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

/** A new tile for user `id`; `self` marks our own preview (muted, mirrored). */
export function createTile(id, { self = false } = {}) {
  const tile = el('figure', 'tile');
  tile.dataset.testid = 'video-tile';
  tile.dataset.user = String(id);
  tile.dataset.self = String(self);

  const video = el('video', 'tile__video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = self;  // never play our own microphone back to us
  video.setAttribute('aria-hidden', 'true');

  const placeholder = el('div', 'tile__placeholder');
  placeholder.dataset.testid = 'video-placeholder';
  const avatar = el('span', 'avatar tile__avatar');
  avatar.setAttribute('aria-hidden', 'true');
  const status = el('span', 'tile__status');
  status.dataset.testid = 'tile-status';
  placeholder.append(avatar, status);

  const caption = el('figcaption', 'tile__caption');
  const name = el('span', 'tile__name');
  name.dataset.testid = 'tile-name';
  const micOff = el('span', 'tile__flag');
  micOff.dataset.testid = 'mic-off';
  micOff.title = 'Microphone off';
  micOff.append(icons.micOff());
  const rec = el('span', 'tile__rec', 'REC');
  rec.dataset.testid = 'recording';
  rec.title = 'Being recorded';
  rec.hidden = true;
  const fx = el('span', 'tile__fx', 'FX');
  fx.dataset.testid = 'filter';
  fx.hidden = true;
  caption.append(rec, name, micOff, fx);

  const sound = el('button', 'tile__sound', 'Play sound');
  sound.type = 'button';
  sound.dataset.testid = 'enable-sound';
  sound.hidden = true;
  sound.addEventListener('click', () => {
    video.muted = false;
    video.play().then(() => { sound.hidden = true; }, () => {});
  });

  // Speaker view: a click anywhere on the tile does the same (video-call.mjs).
  const focus = el('button', 'tile__focus', 'Focus');
  focus.type = 'button';
  focus.dataset.testid = 'tile-focus';
  focus.setAttribute('aria-pressed', 'false');

  tile.append(video, placeholder, caption, focus, sound);
  return tile;
}

/**
 * Brings a tile up to date. `info`: {name, audio, video, recording, filter, unreachable,
 * stream, self, streamName ('camera', 'screen' or another client's name for it)}; stream is the MediaStream to show, or null while it is on its way (or,
 * with `unreachable`, when it could not be received).
 */
export function updateTile(tile, { name, audio, video, recording = false, filter = '', unreachable = false, stream, self, streamName = 'camera' }) {
  const nameEl = tile.querySelector('.tile__name');
  // A second stream is named by its stream name (another client's text: textContent only).
  const shownName = streamName === 'screen' ? `${name}'s screen`
    : streamName !== 'camera' ? `${name} (${streamName})` : self ? `${name} (you)` : name;
  if (nameEl.textContent !== shownName) nameEl.textContent = shownName;
  const avatar = tile.querySelector('.tile__avatar');
  avatar.textContent = (name.trim()[0] ?? '?').toUpperCase();
  avatar.style.setProperty('--hue', String(hue(name)));

  tile.dataset.audio = audio ? 'on' : 'off';
  tile.dataset.video = video ? 'on' : 'off';
  tile.dataset.media = stream ? 'live' : unreachable ? 'failed' : 'connecting';
  tile.querySelector('[data-testid="mic-off"]').hidden = audio;
  tile.dataset.recording = recording ? 'on' : 'off';
  tile.querySelector('[data-testid="recording"]').hidden = !recording;
  tile.dataset.filter = filter;
  const fx = tile.querySelector('[data-testid="filter"]');
  fx.hidden = !filter;
  fx.title = filter ? `Filter: ${filter}` : '';

  const status = !stream ? (unreachable ? 'Could not connect to this video' : 'Connecting…') : video ? '' : 'Camera off';
  tile.querySelector('.tile__status').textContent = status;
  tile.querySelector('.tile__placeholder').hidden = !!stream && video;

  const parts = [shownName];
  parts.push(!stream ? (unreachable ? 'could not connect' : 'connecting') : video ? 'camera on' : 'camera off');
  parts.push(audio ? 'microphone on' : 'microphone off');
  if (recording) parts.push('being recorded');
  if (filter) parts.push('filtered');
  tile.setAttribute('aria-label', parts.join(', '));
  tile.querySelector('.tile__sound').setAttribute('aria-label', `Play sound from ${name}`);

  const videoEl = tile.querySelector('video');
  if (videoEl.srcObject !== stream) {
    videoEl.srcObject = stream;
    if (stream) play(tile, videoEl);
  }
}

// Browsers may refuse to start sound without a user gesture (a reload straight
// into a room): then play muted and offer a button that turns the sound on.
function play(tile, video) {
  video.play().catch((e) => {
    if (e?.name !== 'NotAllowedError' || video.muted) return;
    video.muted = true;
    video.play().catch(() => {});
    tile.querySelector('.tile__sound').hidden = false;
  });
}
