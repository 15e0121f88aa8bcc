// The video call of the room page, on the connection agent's media API
// (Kurento Agent: peer to peer in mesh mode, or through a media server): the
// camera and microphone buttons and the grid with one tile per publishing
// member. Subscriptions to everyone who publishes are made by the agent; this
// module shows what it reports and turns the buttons into media calls. With a
// media server (sfu mode) our stream can also be recorded there, and filtered
// where the media server has filters (Kurento; Janus says not_supported, and
// the filter menu then turns itself off).
import { createTile, updateTile, icons } from './video-tile.mjs';

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

/** Opens camera and microphone, or whichever of the two works. */
async function openMedia(ca) {
  if (!globalThis.navigator?.mediaDevices?.getUserMedia) {
    throw new DOMException('no mediaDevices', 'NotSupportedError');
  }
  let first;
  for (const wanted of [{ audio: true, video: true }, { audio: false, video: true }, { audio: true, video: false }]) {
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
  #el;                      // {grid, camera, video, audio, record, filter, status}
  #nameOf;                  // id -> display name
  #showError;               // (text, code) -> void
  #claimError;              // (code, message) -> void: a request_error the call handles
  #local = null;            // our MediaStream while the camera is on
  #publishing = false;      // we want our stream in the room
  #audio = false;           // our flags (tracks enabled)
  #video = false;
  #busy = false;            // starting the camera
  #mode = 'mesh';           // the room's media mode (config from the server)
  #recordBusy = false;      // a recording change is under way
  #filterBusy = false;      // a filter change is under way
  #noFilters = '';          // why this media server has no filters ('' until it said so)
  #streams = new Map();     // user -> {audio, video, recording, filter} of everyone publishing in the room
  #remote = new Map();      // user -> MediaStream received from them
  #unreachable = new Set(); // users whose stream could not be received (the agent gave up)
  #tiles = new Map();       // 'self' or user id -> tile element

  constructor({ grid, camera, video, audio, record, filter, status, nameOf, showError, claimError = () => {} }) {
    this.#el = { grid, camera, video, audio, record, filter, status };
    this.#nameOf = nameOf;
    this.#showError = showError;
    this.#claimError = claimError;
    camera.addEventListener('click', () => (this.#local ? this.stop() : this.start()));
    video.addEventListener('click', () => this.#toggle('video'));
    audio.addEventListener('click', () => this.#toggle('audio'));
    record.addEventListener('click', () => this.#toggleRecording());
    filter.addEventListener('change', () => this.#setFilter(filter.value));
    this.#renderControls();
  }

  /** Follows a (new) connection agent; the previous one's call is dropped. */
  attach(ca) {
    if (ca === this.#ca) return;
    this.stop();
    for (const off of this.#off.splice(0)) off();
    this.#ca = ca;
    this.#streams.clear();
    this.#remote.clear();
    this.#unreachable.clear();
    this.#mode = 'mesh';
    this.#noFilters = '';
    if (!ca) return this.render();
    const on = (event, fn) => this.#off.push(ca.on(event, (p) => fn(p ?? {})));
    on('media_config', ({ mode }) => {
      this.#mode = mode ?? 'mesh';
      this.#renderControls();
    });
    on('streams', ({ streams }) => {
      this.#streams = new Map((streams ?? []).map((s) => [s.user, { audio: !!s.audio, video: !!s.video, recording: !!s.recording, filter: s.filter ?? '' }]));
      for (const user of this.#unreachable) if (!this.#streams.has(user)) this.#unreachable.delete(user);  // gone: a new stream starts afresh
      this.render();
    });
    // The server dropped our stream (its media server went away, or our connection to it
    // failed): say so and turn the camera off.
    on('unpublished', () => {
      if (!this.#local) return;
      this.stop();
      this.#showError('Your video stopped: the media server lost it. Start video again to share it.', 'unavailable');
    });
    on('remote_stream', ({ user, stream }) => {
      this.#remote.set(user, stream);
      this.#unreachable.delete(user);
      this.render();
    });
    on('receive_failed', ({ user }) => {
      this.#unreachable.add(user);
      this.render();
    });
    on('remote_stream_removed', ({ user }) => {
      this.#remote.delete(user);
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
        stream = await openMedia(ca);
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

  /** Stops sharing and turns the camera and microphone off. */
  stop() {
    if (!this.#local) return;
    this.#ca?.media.stop();
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
    const mine = this.#streams.get(ca?.user?.id);
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
      const { recording = false, filter = '' } = this.#streams.get(me) ?? {};
      wanted.push(['self', { id: me, self: true, audio: this.#audio, video: this.#video, recording, filter, stream: this.#local }]);
    }
    const others = [...this.#streams].filter(([user]) => user !== me).sort(([a], [b]) => a - b);
    for (const [user, flags] of others) {
      const unreachable = this.#unreachable.has(user);
      wanted.push([user, { id: user, self: false, ...flags, unreachable, stream: this.#remote.get(user) ?? null }]);
    }

    const keep = new Set(wanted.map(([key]) => key));
    for (const [key, tile] of this.#tiles) {
      if (keep.has(key)) continue;
      tile.querySelector('video').srcObject = null;
      tile.remove();
      this.#tiles.delete(key);
    }
    // Tiles keep a fixed order (ours first, then by user id), so existing ones never
    // move (moving a playing <video> would pause it); new ones go in their place.
    let prev = null;
    for (const [key, info] of wanted) {
      let tile = this.#tiles.get(key);
      if (!tile) {
        tile = createTile(info.id, { self: info.self });
        this.#tiles.set(key, tile);
        if (prev) prev.after(tile);
        else this.#el.grid.prepend(tile);
      }
      tile.dataset.user = String(info.id);
      updateTile(tile, { ...info, name: this.#nameOf(info.id) });
      prev = tile;
    }
    this.#el.grid.hidden = wanted.length === 0;
    this.#el.grid.dataset.count = String(wanted.length);
    this.#renderControls();
  }

  #renderControls() {
    const { camera, video, audio, record, filter } = this.#el;
    const on = !!this.#local;
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
    const mine = this.#streams.get(this.#ca?.user?.id);
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

function setButton(button, svg, text) {
  if (button.dataset.label === text) return;
  button.dataset.label = text;
  const label = document.createElement('span');
  label.textContent = text;
  button.replaceChildren(svg, label);
}
