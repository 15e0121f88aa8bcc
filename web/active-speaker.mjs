// Who is speaking: the audio level of every stream in the call (WebAudio
// AnalyserNode on its audio track), sampled a few times a second. The loudest
// one above a threshold is the active speaker; it stays so for HOLD_MS after
// going quiet, so the highlight does not flicker between words.

const SAMPLE_MS = 150;
const THRESHOLD = 0.015;   // RMS of the samples, 0..1
const DECAY = 0.7;         // per sample: a level falls gently
const HOLD_MS = 1200;

export class ActiveSpeaker {
  #ctx = null;
  #sources = new Map();   // key -> {stream, source, analyser, level, buffer}
  #timer = null;
  #active = null;
  #quietSince = 0;
  #onChange;              // (key | null) -> void

  constructor(onChange) {
    this.#onChange = onChange;
    // A context made before the page was clicked starts suspended: any click or key wakes it.
    for (const event of ['pointerdown', 'keydown']) document.addEventListener(event, () => this.resume(), { passive: true });
  }

  get active() { return this.#active; }

  /** Follows the levels of `stream` under `key` (a tile); null stops. */
  watch(key, stream) {
    const known = this.#sources.get(key);
    if (known?.stream === stream && known.tracks === audioIds(stream)) return;
    this.unwatch(key);
    if (!stream?.getAudioTracks().length || !globalThis.AudioContext) return;
    try {
      this.#ctx ??= new AudioContext();
      const source = this.#ctx.createMediaStreamSource(stream);
      const analyser = this.#ctx.createAnalyser();
      analyser.fftSize = 512;
      source.connect(analyser);  // not to the speakers: the <video> plays the sound
      this.#sources.set(key, { stream, tracks: audioIds(stream), source, analyser, level: 0, buffer: new Float32Array(analyser.fftSize) });
    } catch {
      return;  // no WebAudio for this stream: no highlight, nothing worse
    }
    this.#timer ??= setInterval(() => this.#sample(), SAMPLE_MS);
  }

  unwatch(key) {
    const s = this.#sources.get(key);
    if (!s) return;
    s.source.disconnect();
    this.#sources.delete(key);
    if (this.#active === key) this.#set(null);
    if (!this.#sources.size) { clearInterval(this.#timer); this.#timer = null; }
  }

  /** Browsers start an AudioContext suspended until the page was clicked: call on a click. */
  resume() { if (this.#ctx?.state === 'suspended') this.#ctx.resume().catch(() => {}); }

  #sample() {
    let loudest = null;
    let max = THRESHOLD;
    for (const [key, s] of this.#sources) {
      s.analyser.getFloatTimeDomainData(s.buffer);
      let sum = 0;
      for (const v of s.buffer) sum += v * v;
      s.level = Math.max(Math.sqrt(sum / s.buffer.length), s.level * DECAY);
      if (s.level > max) { max = s.level; loudest = key; }
    }
    const now = performance.now();
    if (loudest !== null) {
      this.#quietSince = now;
      if (loudest !== this.#active) this.#set(loudest);
    } else if (this.#active !== null && now - this.#quietSince > HOLD_MS) {
      this.#set(null);
    }
  }

  #set(key) {
    this.#active = key;
    this.#onChange(key);
  }
}

const audioIds = (stream) => stream?.getAudioTracks().map((t) => t.id).join(',') ?? '';
