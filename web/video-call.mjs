// The video call of the room page, on the connection agent's media API
// (Kurento Agent: peer to peer in mesh mode, or through a media server): the
// camera, microphone and screen buttons, device switching, and which streams
// the stage (call-stage.mjs) shows. Subscriptions to everyone who publishes are
// made by the agent; this module follows what it reports and turns the buttons
// into media calls. With a
// media server (sfu mode) our stream can also be recorded there, and filtered
// where the media server has filters (Kurento; Janus says not_supported, and
// the filter menu then turns itself off).
import { icons, setButton } from './video-tile.mjs';
import { CallStage } from './call-stage.mjs';

// A user may share several streams (camera, screen): stream objects name theirs in
// `stream` ("camera" when absent, docs/protocol.md 3.3). The two functions below
// are the one place that reads the name from the package's payloads.
const CAMERA = 'camera';
const SCREEN = 'screen';
/** The stream name of a stream object (`streams` event). */
const nameOfStream = (s) => (typeof s?.stream === 'string' && s.stream ? s.stream : CAMERA);
/** The stream name of a remote_stream / remote_stream_removed / receive_failed payload. */
const nameOfRemote = (p) => (typeof p?.name === 'string' && p.name ? p.name : CAMERA);
const keyOf = (user, name) => `${user}:${name}`;

// getUserMedia failures, by DOMException name, in words a user can act on.
const GUM_ERRORS = {
  NotAllowedError: 'access to the camera and microphone was blocked. Allow it in the browser (the icon in the address bar) and try again',
  SecurityError: 'access to the camera and microphone was blocked. Allow it in the browser (the icon in the address bar) and try again',
  NotFoundError: 'no camera or microphone was found',
  NotReadableError: 'the camera or microphone is in use by another application, or could not be started',
  AbortError: 'the camera or microphone could not be started',
  OverconstrainedError: 'no camera or microphone fits',
  NotSupportedError: 'this page cannot use a camera here: it needs https (or localhost)',
};
// Worth trying again with fewer devices (a laptop without a microphone, say).
const RETRY_WITH_LESS = new Set(['NotFoundError', 'NotReadableError', 'OverconstrainedError', 'AbortError']);

/** A user-facing sentence for a getUserMedia failure. */
export function explainMediaError(e) {
  const reason = GUM_ERRORS[e?.name] ?? e?.message ?? String(e);
  return `Could not start your camera: ${reason}.`;
}

/**
 * Opens camera and microphone, or whichever of the two works. `devices`: {audio, video}
 * device ids chosen in the device panel ('' for the browser's default).
 */
async function openMedia(ca, devices = {}) {
  if (!globalThis.navigator?.mediaDevices?.getUserMedia) {
    throw new DOMException('no mediaDevices', 'NotSupportedError');
  }
  // The chosen devices first (exact: "ideal" may quietly give the default one), then
  // whatever the browser has, with fewer devices each time.
  const chosen = (kind) => (devices[kind] ? { deviceId: { exact: devices[kind] } } : true);
  const attempts = [[true, true], [false, true], [true, false]].map(([audio, video]) => ({ audio, video }));
  if (devices.audio || devices.video) attempts.unshift({ audio: chosen('audio'), video: chosen('video') });
  let first;
  for (const wanted of attempts) {
    try {
      return await ca.media.start(wanted);
    } catch (e) {
      first ??= e;
      if (!RETRY_WITH_LESS.has(e?.name)) break;
    }
  }
  throw first;
}

export class VideoCall {
  #ca = null;
  #off = [];                // listeners of the current agent
  #el;                      // {camera, video, audio, screen, record, filter, status}
  #showError;               // (text, code) -> void
  #claimError;              // (code, message) -> void: a request_error the call handles
  #local = null;            // our MediaStream while the camera is on
  #screen = null;           // our shared screen's MediaStream, or null
  #publishing = false;      // we want our stream in the room
  #audio = false;           // our flags (tracks enabled)
  #video = false;
  #busy = false;            // starting the camera
  #mode = 'mesh';           // the room's media mode (config from the server)
  #recordBusy = false;      // a recording change is under way
  #filterBusy = false;      // a filter change is under way
  #noFilters = '';          // why this media server has no filters ('' until it said so)
  #streams = new Map();     // "user:name" -> {user, name, audio, video, recording, filter} of every stream in the room
  #remote = new Map();      // "user:name" -> MediaStream received
  #unreachable = new Set(); // "user:name" of streams that could not be received (the agent gave up)
  #stage;                   // the tiles (call-stage.mjs)
  #devices = { audio: '', video: '' };  // chosen device ids ('' = default)

  constructor({ room, grid, fold, camera, video, audio, screen, record, filter, status, nameOf, showError, claimError = () => {} }) {
    this.#el = { camera, video, audio, screen, record, filter, status };
    this.#stage = new CallStage({ room, grid, fold, nameOf });
    this.#showError = showError;
    this.#claimError = claimError;
    camera.addEventListener('click', () => (this.#local ? this.stop() : this.start()));
    video.addEventListener('click', () => this.#toggle('video'));
    audio.addEventListener('click', () => this.#toggle('audio'));
    record.addEventListener('click', () => this.#toggleRecording());
    screen.addEventListener('click', () => (this.#screen ? this.stopScreen() : this.shareScreen()));
    filter.addEventListener('change', () => this.#setFilter(filter.value));
    this.#renderControls();
  }

  /** Follows a (new) connection agent; the previous one's call is dropped. */
  attach(ca) {
    if (ca === this.#ca) return;
    this.stop();
    this.stopScreen();
    for (const off of this.#off.splice(0)) off();
    this.#ca = ca;
    this.#streams.clear();
    this.#remote.clear();
    this.#unreachable.clear();
    this.#mode = 'mesh';
    this.#noFilters = '';
    this.#stage.reset();
    if (!ca) return this.render();
    const on = (event, fn) => this.#off.push(ca.on(event, (p) => fn(p ?? {})));
    on('media_config', ({ mode }) => {
      this.#mode = mode ?? 'mesh';
      this.#renderControls();
    });
    on('streams', ({ streams }) => {
      this.#streams = new Map((Array.isArray(streams) ? streams : []).filter((s) => Number.isSafeInteger(s?.user)).map((s) => {
        const name = nameOfStream(s);
        return [keyOf(s.user, name), { user: s.user, name, audio: !!s.audio, video: !!s.video, recording: !!s.recording, filter: typeof s.filter === 'string' ? s.filter : '' }];
      }));
      for (const key of this.#unreachable) if (!this.#streams.has(key)) this.#unreachable.delete(key);  // gone: a new stream starts afresh
      this.render();
    });
    // The server dropped one of our streams (its media server went away, or our connection
    // to it failed): say so and turn that stream off, the camera or the shared screen.
    on('unpublished', (p) => {
      if (nameOfStream(p) !== CAMERA) {
        if (!this.#screen) return;
        this.stopScreen();
        this.#showError('Your screen share stopped: the media server lost it. Share it again to show it.', 'unavailable');
        return;
      }
      if (!this.#local) return;
      this.stop();
      this.#showError('Your video stopped: the media server lost it. Start video again to share it.', 'unavailable');
    });
    on('remote_stream', (p) => {
      const key = keyOf(p.user, nameOfRemote(p));
      this.#remote.set(key, p.stream);
      this.#unreachable.delete(key);
      this.render();
    });
    on('receive_failed', (p) => {
      this.#unreachable.add(keyOf(p.user, nameOfRemote(p)));
      this.render();
    });
    on('remote_stream_removed', (p) => {
      this.#remote.delete(keyOf(p.user, nameOfRemote(p)));
      this.render();
    });
    on('media_error', ({ action, code, message }) => this.#mediaError(action, code, message));
    on('disconnect', () => {
      if (this.#local) this.#setStatus('Connection lost: your camera is shared again once it is back.');
    });
    // Back in the room after a reconnect: the server forgot our stream, share it again.
    on('room_joined', () => { if (this.#local && this.#publishing) this.#publish(); });
    this.render();
  }

  /** Opens the camera and microphone and shares them with the room. */
  async start() {
    const ca = this.#ca;
    if (!ca || this.#local || this.#busy) return;
    this.#busy = true;
    this.#setStatus('Starting your camera…');
    this.#renderControls();
    try {
      let stream;
      try {
        stream = await openMedia(ca, this.#devices);
      } catch (e) {
        this.#setStatus('');
        this.#showError(explainMediaError(e), 'media_unavailable');
        return;
      }
      if (ca !== this.#ca) return;  // the agent changed meanwhile
      this.#local = stream;
      this.#audio = stream.getAudioTracks().some((t) => t.enabled);
      this.#video = stream.getVideoTracks().some((t) => t.enabled);
      this.#publishing = true;
      this.render();
      await this.#publish();
    } finally {
      this.#busy = false;
      this.#renderControls();
    }
  }

  // --- screen sharing ---------------------------------------------------------------
  // Needs the package's screen API (a second stream named "screen", docs/protocol.md 3.3):
  // media.shareScreen() picks and publishes a screen (getDisplayMedia) and resolves with
  // its MediaStream; media.stopScreen() unpublishes it. The button shows once it exists.

  #canShareScreen() {
    return typeof this.#ca?.media?.shareScreen === 'function' && !!globalThis.navigator?.mediaDevices?.getDisplayMedia;
  }

  async shareScreen() {
    const ca = this.#ca;
    if (!this.#canShareScreen() || this.#screen) return;
    try {
      const stream = await ca.media.shareScreen();
      if (ca !== this.#ca) return;
      this.#screen = stream;
      // The browser's own "Stop sharing" ends the track.
      stream.getVideoTracks()[0]?.addEventListener('ended', () => { if (this.#screen === stream) this.stopScreen(); });
      this.render();
    } catch (e) {
      if (e?.name === 'NotAllowedError' || e?.name === 'AbortError') return;  // the picker was cancelled
      this.#showError(`Could not share your screen: ${e?.message ?? e}.`, e?.code ?? 'media');
    }
  }

  stopScreen() {
    if (!this.#screen) return;
    this.#ca?.media.stopScreen?.();
    for (const t of this.#screen.getTracks()) t.stop();
    this.#screen = null;
    this.render();
  }

  /** Stops sharing the camera and turns it and the microphone off (a shared screen goes on). */
  stop() {
    if (!this.#local) return;
    this.#ca?.media.stop(CAMERA);
    this.#local = null;
    this.#publishing = false;
    this.#setStatus('');
    this.render();
  }

  async #publish() {
    const ca = this.#ca;
    this.#setStatus('Sharing your camera with the room…');
    try {
      await ca.media.publish({ audio: this.#audio, video: this.#video });
      if (ca === this.#ca && this.#local) this.#setStatus(this.#describeSelf());
    } catch (e) {
      if (ca !== this.#ca) return;
      // Offline: the agent rejoins the room when it is back, and we publish again then.
      if (['disconnected', 'not_connected'].includes(e?.code)) return this.#setStatus('Waiting for the connection…');
      this.stop();
      this.#showError(`Could not share your camera: ${e?.message ?? e}.`, e?.code ?? 'media');
    }
  }

  #toggle(kind) {
    if (!this.#local || !this.#ca) return;
    if (kind === 'video') this.#video = !this.#video;
    else this.#audio = !this.#audio;
    this.#ca.media.mute(kind === 'video' ? { video: this.#video } : { audio: this.#audio });
    this.#setStatus(this.#describeSelf());
    this.render();
  }

  /** sfu mode: records our stream on the media server, or stops. */
  async #toggleRecording() {
    const ca = this.#ca;
    const mine = this.#streams.get(keyOf(ca?.user?.id, CAMERA));
    if (!ca || !mine || this.#recordBusy) return;
    const start = !mine.recording;
    this.#recordBusy = true;
    this.#renderControls();
    try {
      await ca.media.record(start);
    } catch (e) {
      if (ca === this.#ca) this.#showError(`Could not ${start ? 'start' : 'stop'} recording: ${e?.message ?? e}.`, e?.code ?? 'media');
    } finally {
      this.#recordBusy = false;
      this.#renderControls();
    }
  }

  /** sfu mode: a media-server filter on our stream ('' removes it). */
  async #setFilter(value) {
    const ca = this.#ca;
    if (!ca || this.#filterBusy) return;
    this.#filterBusy = true;
    this.#renderControls();
    try {
      await ca.media.setFilter(value);
    } catch (e) {
      if (ca !== this.#ca) return;
      if (e?.code === 'not_supported') this.#noFilters = e.message ?? 'this media server has no filters';
      else this.#showError(`Could not apply the filter: ${e?.message ?? e}.`, e?.code ?? 'media');
    } finally {
      this.#filterBusy = false;
      this.#renderControls();
    }
  }

  #describeSelf() {
    const cam = this.#video ? 'camera on' : 'camera off';
    const mic = this.#local?.getAudioTracks().length ? (this.#audio ? 'microphone on' : 'microphone muted') : 'no microphone';
    return `You are in the call: ${cam}, ${mic}.`;
  }

  #mediaError(action, code, message) {
    this.#claimError(code, message);  // shown here, or not at all
    if (['publish', 'record_start', 'record_stop', 'set_filter'].includes(action)) return;  // their promises report it
    if (action === 'update_stream') {
      return this.#showError(`Could not tell the room about your camera and microphone: ${message}.`, code);
    }
    // Signalling that raced with someone leaving or unpublishing, or a connection that
    // failed: the agent has cleaned up; nothing the user can do about it.
    console.warn(`video call: ${action} failed (${code}): ${message}`);
  }

  #setStatus(text) { this.#el.status.textContent = text; }

  // --- rendering ---------------------------------------------------------------

  /** Call again when member names may have changed. */
  render() {
    const me = this.#ca?.user?.id ?? 0;
    const wanted = [];
    if (this.#local) {
      const { recording = false, filter = '' } = this.#streams.get(keyOf(me, CAMERA)) ?? {};
      wanted.push(['self', { id: me, self: true, name: CAMERA, audio: this.#audio, video: this.#video, recording, filter, stream: this.#local }]);
    }
    if (this.#screen) {
      wanted.push(['self:screen', { id: me, self: true, name: SCREEN, audio: false, video: true, stream: this.#screen }]);
    }
    const others = [...this.#streams].filter(([, s]) => s.user !== me)
      .sort(([, a], [, b]) => a.user - b.user || (a.name === CAMERA ? -1 : b.name === CAMERA ? 1 : a.name.localeCompare(b.name)));
    for (const [key, s] of others) {
      const unreachable = this.#unreachable.has(key);
      wanted.push([key, { id: s.user, self: false, ...s, unreachable, stream: this.#remote.get(key) ?? null }]);
    }

    this.#stage.show(wanted);
    this.#renderControls();
  }

  // --- devices --------------------------------------------------------------------

  /** The local stream while the camera is on (the device panel previews it). */
  get localStream() { return this.#local; }

  /** Device ids to open next time ('' = default); in a call, switches to them. */
  async useDevices({ audio = this.#devices.audio, video = this.#devices.video }) {
    const changed = ['audio', 'video'].filter((k) => ({ audio, video })[k] !== this.#devices[k]);
    this.#devices = { audio, video };
    if (!this.#local || !changed.length) return;
    await this.#switchDevices(changed);
  }

  /** Plays the others' sound on speaker `sinkId` where the browser can choose (setSinkId). */
  useSpeaker(sinkId) { return this.#stage.useSpeaker(sinkId); }

  /**
   * Switches camera and/or microphone during the call. With the package's
   * media.replaceTrack(track) (RTCRtpSender.replaceTrack on its connections) the
   * new track goes out without renegotiating; without it, the stream is stopped and
   * shared again (a new connection: the others see a short gap).
   */
  async #switchDevices(kinds) {
    const ca = this.#ca;
    const media = ca?.media;
    if (typeof media?.replaceTrack === 'function') {
      const constraints = Object.fromEntries(kinds.map((k) => [k, this.#devices[k] ? { deviceId: { exact: this.#devices[k] } } : true]));
      const fresh = await navigator.mediaDevices.getUserMedia(constraints);
      for (const track of fresh.getTracks()) {
        track.enabled = track.kind === 'video' ? this.#video : this.#audio;
        await media.replaceTrack(track);
      }
      this.#stage.forgetAudio('self');
      this.render();
      return;
    }
    const { audio, video } = { audio: this.#audio, video: this.#video };
    media.stop(CAMERA);
    this.#local = null;
    this.#busy = true;
    this.#renderControls();
    try {
      const stream = await openMedia(ca, this.#devices);
      if (ca !== this.#ca) return;
      for (const t of stream.getAudioTracks()) t.enabled = audio;
      for (const t of stream.getVideoTracks()) t.enabled = video;
      this.#local = stream;
      this.#audio = audio && stream.getAudioTracks().length > 0;
      this.#video = video && stream.getVideoTracks().length > 0;
      this.#stage.forgetAudio('self');
      this.render();
      await this.#publish();
    } catch (e) {
      this.#publishing = false;
      this.render();
      this.#showError(explainMediaError(e), 'media_unavailable');
    } finally {
      this.#busy = false;
      this.#renderControls();
    }
  }

  #renderControls() {
    const { camera, video, audio, screen, record, filter } = this.#el;
    const on = !!this.#local;
    screen.hidden = !this.#canShareScreen();
    screen.dataset.state = this.#screen ? 'on' : 'off';
    setButton(screen, icons.screen(), this.#screen ? 'Stop sharing' : 'Share screen');
    camera.disabled = this.#busy || !this.#ca;
    camera.dataset.state = on ? 'on' : 'off';
    setButton(camera, on ? icons.stop() : icons.camera(), this.#busy ? 'Starting…' : on ? 'Stop video' : 'Start video');
    camera.classList.toggle('primary', !on);
    camera.classList.toggle('secondary', on);

    video.hidden = !this.#local?.getVideoTracks().length;
    video.dataset.state = this.#video ? 'on' : 'off';
    setButton(video, this.#video ? icons.camera() : icons.cameraOff(), this.#video ? 'Turn camera off' : 'Turn camera on');

    audio.hidden = !this.#local?.getAudioTracks().length;
    audio.dataset.state = this.#audio ? 'on' : 'off';
    setButton(audio, this.#audio ? icons.mic() : icons.micOff(), this.#audio ? 'Mute microphone' : 'Unmute microphone');

    // Recording needs a media server and our stream on it.
    const mine = this.#streams.get(keyOf(this.#ca?.user?.id, CAMERA));
    record.hidden = this.#mode !== 'sfu' || !this.#local || !mine;
    record.disabled = this.#recordBusy;
    record.dataset.state = mine?.recording ? 'on' : 'off';
    setButton(record, icons.record(), mine?.recording ? 'Stop recording' : 'Record');

    // Filters, where the media server has them.
    filter.hidden = record.hidden;
    filter.disabled = this.#filterBusy || !!this.#noFilters;
    filter.title = this.#noFilters ? `No filters here: ${this.#noFilters}` : 'A filter the media server applies to your video';
    if (!this.#filterBusy) filter.value = mine?.filter ?? '';
  }
}
