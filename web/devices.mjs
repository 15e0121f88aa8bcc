// The device panel: camera, microphone and (where the browser can route sound,
// HTMLMediaElement.setSinkId) speaker, with a preview and a microphone level.
// Before a call the choice is kept (localStorage) and used when the camera
// starts; during a call a change switches the running call (VideoCall.useDevices).
import { icons, setButton } from './video-tile.mjs';

const KEYS = { video: 'compeit.camera', audio: 'compeit.mic', speaker: 'compeit.speaker' };

export class DevicePanel {
  #el;        // {button, panel, preview, camera, mic, speaker, speakerLabel, level, status, done}
  #call;      // the VideoCall
  #preview = null;   // our own preview stream while the camera is off
  #meter = null;     // {ctx, analyser, timer}

  constructor(el, call) {
    this.#el = el;
    this.#call = call;
    setButton(el.button, icons.devices(), 'Devices');
    const stored = (k) => localStorage.getItem(KEYS[k]) ?? '';
    call.useDevices({ audio: stored('audio'), video: stored('video') });
    if (stored('speaker')) call.useSpeaker(stored('speaker'));
    el.button.addEventListener('click', () => (el.panel.hidden ? this.open() : this.close()));
    el.done.addEventListener('click', () => this.close());
    el.panel.addEventListener('submit', (ev) => { ev.preventDefault(); this.close(); });
    el.panel.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { ev.preventDefault(); this.close(); } });
    el.camera.addEventListener('change', () => this.#choose('video', el.camera.value));
    el.mic.addEventListener('change', () => this.#choose('audio', el.mic.value));
    el.speaker.addEventListener('change', () => this.#chooseSpeaker(el.speaker.value));
    const canRoute = typeof HTMLMediaElement.prototype.setSinkId === 'function';
    el.speaker.hidden = el.speakerLabel.hidden = !canRoute;
    navigator.mediaDevices?.addEventListener?.('devicechange', () => { if (!el.panel.hidden) this.#list(); });
  }

  async open() {
    const { panel, button, camera } = this.#el;
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    this.#say('');
    await this.#showPreview();
    await this.#list();
    camera.focus();
  }

  close() {
    const { panel, button } = this.#el;
    if (panel.hidden) return;
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    this.#stopPreview();
    button.focus();
  }

  /** The call's stream while the camera is on, else a preview of our own. */
  async #showPreview() {
    const live = this.#call.localStream;
    if (live) return this.#attach(live);
    this.#stopPreview();
    try {
      const id = (k) => localStorage.getItem(KEYS[k]);
      const want = (k) => (id(k) ? { deviceId: { exact: id(k) } } : true);
      // The chosen devices, or the default ones when those are gone.
      this.#preview = await navigator.mediaDevices.getUserMedia({ video: want('video'), audio: want('audio') })
        .catch(() => navigator.mediaDevices.getUserMedia({ video: true, audio: true }));
      this.#attach(this.#preview);
    } catch (e) {
      this.#say(`No preview: ${e?.name === 'NotAllowedError' ? 'the camera is blocked in the browser' : e?.message ?? e}.`);
    }
  }

  #attach(stream) {
    this.#el.preview.srcObject = stream;
    this.#el.preview.play?.().catch(() => {});
    this.#startMeter(stream);
  }

  #stopPreview() {
    this.#stopMeter();
    this.#el.preview.srcObject = null;
    for (const t of this.#preview?.getTracks() ?? []) t.stop();
    this.#preview = null;
  }

  async #list() {
    let devices = [];
    try { devices = await navigator.mediaDevices.enumerateDevices(); } catch { /* none listed */ }
    const { camera, mic, speaker } = this.#el;
    fill(camera, devices.filter((d) => d.kind === 'videoinput'), 'Camera', this.#current('video'));
    fill(mic, devices.filter((d) => d.kind === 'audioinput'), 'Microphone', this.#current('audio'));
    fill(speaker, devices.filter((d) => d.kind === 'audiooutput'), 'Speaker', localStorage.getItem(KEYS.speaker) ?? '');
  }

  /** The device in use (the live track's), else the stored choice. */
  #current(kind) {
    const stream = this.#call.localStream ?? this.#preview;
    const track = kind === 'video' ? stream?.getVideoTracks()[0] : stream?.getAudioTracks()[0];
    return track?.getSettings?.().deviceId ?? localStorage.getItem(KEYS[kind]) ?? '';
  }

  async #choose(kind, deviceId) {
    localStorage.setItem(KEYS[kind], deviceId);
    const inCall = !!this.#call.localStream;
    this.#say(inCall ? `Switching ${kind === 'video' ? 'camera' : 'microphone'}…` : '');
    try {
      await this.#call.useDevices({ [kind]: deviceId });
      if (inCall) this.#say(`${kind === 'video' ? 'Camera' : 'Microphone'} switched.`);
    } catch (e) {
      this.#say(`Could not switch: ${e?.message ?? e}.`);
    }
    await this.#showPreview();
  }

  async #chooseSpeaker(sinkId) {
    localStorage.setItem(KEYS.speaker, sinkId);
    await this.#call.useSpeaker(sinkId);
    this.#say('Speaker changed.');
  }

  #say(text) { this.#el.status.textContent = text; }

  // The microphone level under the choice: proof that the chosen one hears us.
  #startMeter(stream) {
    this.#stopMeter();
    if (!stream.getAudioTracks().length || !globalThis.AudioContext) return;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(stream).connect(analyser);
    const buffer = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(buffer);
      let peak = 0;
      for (const v of buffer) peak = Math.max(peak, Math.abs(v));
      this.#el.level.value = Math.min(1, peak * 2);
    }, 100);
    this.#meter = { ctx, timer };
  }

  #stopMeter() {
    if (!this.#meter) return;
    clearInterval(this.#meter.timer);
    this.#meter.ctx.close().catch(() => {});
    this.#meter = null;
    this.#el.level.value = 0;
  }
}

/** Fills a <select> with devices; their labels appear once the page may use them. */
function fill(select, devices, what, selected) {
  const options = devices.map((d, i) => {
    const o = document.createElement('option');
    o.value = d.deviceId;
    o.textContent = d.label || `${what} ${i + 1}`;
    return o;
  });
  if (!options.length) {
    const none = document.createElement('option');
    none.value = '';
    none.textContent = `No ${what.toLowerCase()} found`;
    options.push(none);
  }
  select.replaceChildren(...options);
  select.disabled = devices.length === 0;
  if (devices.some((d) => d.deviceId === selected)) select.value = selected;
}
