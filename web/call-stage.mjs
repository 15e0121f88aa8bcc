// The video area of the room page: one tile per stream (ours first, then by
// user), laid out as an equal grid or as speaker view (call-layout.mjs), the
// active speaker marked (active-speaker.mjs), the others' sound on the chosen
// speaker, and the fold button that hides the area. VideoCall decides which
// streams there are; this module only shows them.
import { createTile, updateTile, icons, setButton } from './video-tile.mjs';
import { layoutTiles } from './call-layout.mjs';
import { ActiveSpeaker } from './active-speaker.mjs';

const SCREEN = 'screen';

export class CallStage {
  #el;                  // {room, grid, fold}
  #nameOf;              // user id -> display name
  #tiles = new Map();   // key ('self', 'self:screen', "user:name") -> tile element
  #focus;               // the key the user chose to show large, null for the grid, undefined: automatic
  #sinkId = '';         // chosen speaker ('' = default)
  #speaker = new ActiveSpeaker((key) => this.#markSpeaker(key));

  constructor({ room, grid, fold, nameOf }) {
    this.#el = { room, grid, fold };
    this.#nameOf = nameOf;
    setButton(fold, icons.fold(), 'Hide video');
    fold.addEventListener('click', () => this.#fold(!grid.hidden));
    grid.addEventListener('click', (ev) => this.#onTileClick(ev));
    const resized = new ResizeObserver(() => this.#layout());
    resized.observe(grid.parentElement);  // the window, the chat column…
    resized.observe(grid);                // …and what else shares the call column (the device panel)
  }

  /** A new call: the layout choice starts automatic again. */
  reset() { this.#focus = undefined; }

  /**
   * Shows exactly the tiles of `wanted`: [[key, info]] in display order, `info` as
   * updateTile takes it plus `id` (the user) and `name` (the stream name).
   */
  show(wanted) {
    const keep = new Set(wanted.map(([key]) => key));
    for (const [key, tile] of this.#tiles) {
      if (keep.has(key)) continue;
      tile.querySelector('video').srcObject = null;
      tile.remove();
      this.#tiles.delete(key);
      this.#speaker.unwatch(key);
      if (this.#focus === key) this.#focus = undefined;
    }
    // Tiles keep a fixed order, so existing ones never move (moving a playing <video>
    // would pause it); new ones go in their place.
    let prev = null;
    for (const [key, info] of wanted) {
      let tile = this.#tiles.get(key);
      if (!tile) {
        tile = createTile(info.id, { self: info.self });
        tile.dataset.key = key;
        this.#tiles.set(key, tile);
        if (prev) prev.after(tile);
        else this.#el.grid.prepend(tile);
        if (!info.self && this.#sinkId) setSink(tile, this.#sinkId);
      }
      tile.dataset.user = String(info.id);
      tile.dataset.stream = info.name;
      updateTile(tile, { ...info, name: this.#nameOf(info.id), streamName: info.name });
      if (info.stream) this.#speaker.watch(key, info.stream);
      prev = tile;
    }
    const { room, grid, fold } = this.#el;
    grid.dataset.count = String(wanted.length);
    fold.hidden = wanted.length === 0;
    if (!wanted.length) grid.hidden = true;
    else if (fold.getAttribute('aria-expanded') === 'true') grid.hidden = false;
    room.dataset.call = grid.hidden ? 'off' : 'on';
    this.#layout();
  }

  /** Plays the others' sound on speaker `sinkId` where the browser can choose (setSinkId). */
  async useSpeaker(sinkId) {
    this.#sinkId = sinkId;
    const remote = [...this.#tiles.values()].filter((t) => t.dataset.self !== 'true');
    await Promise.all(remote.map((t) => setSink(t, sinkId)));
  }

  /** The stream under `key` changed its tracks: measure it afresh on the next show(). */
  forgetAudio(key) { this.#speaker.unwatch(key); }

  /** The tile shown large: the one the user chose, else someone's shared screen, else none. */
  #mainKey() {
    if (this.#focus !== undefined) return this.#focus;
    // Our own screen stays small: we know what we share.
    for (const key of this.#tiles.keys()) if (!key.startsWith('self') && key.endsWith(`:${SCREEN}`)) return key;
    return null;
  }

  #layout() {
    const grid = this.#el.grid;
    if (grid.hidden) return;
    const main = this.#tiles.get(this.#mainKey()) ?? null;
    layoutTiles(grid, [...grid.children].filter((t) => t.dataset.testid === 'video-tile'), main);
    for (const tile of this.#tiles.values()) {
      const focused = tile === main;
      const button = tile.querySelector('.tile__focus');
      const name = tile.querySelector('.tile__name').textContent;
      button.setAttribute('aria-pressed', String(focused));
      button.textContent = focused ? 'Back to grid' : 'Focus';
      button.setAttribute('aria-label', focused ? `Back to grid (${name} is shown large)` : `Show ${name} large`);
    }
  }

  /** A click on a tile (or its Focus button) shows it large; on the large one, back to the grid. */
  #onTileClick(ev) {
    const tile = ev.target.closest('[data-testid="video-tile"]');
    if (!tile || ev.target.closest('.tile__sound')) return;
    const key = tile.dataset.key;
    this.#focus = this.#mainKey() === key ? null : key;
    this.#layout();
  }

  /** Hides or shows the video area (a phone's screen is better spent on the chat at times). */
  #fold(hide) {
    const { room, grid, fold } = this.#el;
    grid.hidden = hide;
    room.dataset.call = hide ? 'off' : 'on';
    fold.setAttribute('aria-expanded', String(!hide));
    setButton(fold, hide ? icons.unfold() : icons.fold(), hide ? `Show video (${this.#tiles.size})` : 'Hide video');
    this.#layout();
  }

  #markSpeaker(key) {
    for (const [k, tile] of this.#tiles) tile.dataset.speaking = String(k === key);
  }
}

function setSink(tile, sinkId) {
  const video = tile.querySelector('video');
  if (typeof video.setSinkId !== 'function') return Promise.resolve();
  return video.setSinkId(sinkId).catch(() => {});  // a speaker that went away: the default plays on
}
