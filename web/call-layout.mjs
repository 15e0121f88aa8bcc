// Where the video tiles go: a CSS grid computed from the tile count and the
// space, so tiles grow with the window. Two layouts:
//  - grid: every tile the same size, as large as the area allows (the column
//    count that gives the widest tile wins); a short last row is centred;
//  - speaker: one tile (a focused person, or a shared screen) large, the others
//    in a strip beside it (wide areas) or below it (tall ones).
// The grid element's CSS says how its height is found (--grid-fit): "fill" takes
// the height the page gives it (desktop in a call), "fit" grows to the tiles'
// height up to --grid-max (phones, narrow windows). Tiles are never moved in the
// DOM (moving a playing <video> pauses it): only their grid positions change.

export const ASPECT = 16 / 9;
const MIN_STRIP = 120;   // px: the narrowest strip tile
const MAX_STRIP = 240;

/**
 * The grid for `n` equal tiles in W×H: {cols, rows, w, h}, or null when nothing fits.
 * The widest tile wins; with `fit` (the grid's height is taken from the chat below it)
 * every extra row must pay for itself: a tile a little wider is not worth a second row.
 */
export function bestGrid(n, W, H, gap = 8, { fit = false, aspect = ASPECT } = {}) {
  let best = null;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = Math.min((W - gap * (cols - 1)) / cols, ((H - gap * (rows - 1)) / rows) * aspect);
    const score = fit ? w / Math.sqrt(rows) : w;
    if (w > 0 && (!best || score > best.score + 0.5)) best = { cols, rows, w: Math.floor(w), h: Math.floor(w / aspect), score };
  }
  return best;
}

/**
 * Places `tiles` (elements, in DOM order) in `grid`. `main`: the tile shown large,
 * or null for the equal grid. Returns the layout's name.
 */
export function layoutTiles(grid, tiles, main) {
  const style = getComputedStyle(grid);
  const gap = parseFloat(style.columnGap) || 0;
  const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
  const fit = style.getPropertyValue('--grid-fit').trim() !== 'fill';
  const W = grid.clientWidth - padX;
  const H = (fit ? maxHeight(grid, style) : grid.clientHeight) - padY;
  if (!tiles.length || W <= 0 || H <= 0) return 'grid';
  for (const t of tiles) t.dataset.main = String(t === main);

  const speaker = main && tiles.length > 1 && tiles.includes(main);
  const used = speaker ? speakerLayout(grid, tiles, main, W, H, gap, fit) : equalGrid(grid, tiles, W, H, gap, fit);
  if (fit) grid.style.height = `${Math.ceil(used + padY)}px`;
  else grid.style.removeProperty('height');
  grid.dataset.layout = speaker ? 'speaker' : 'grid';
  return grid.dataset.layout;
}

function maxHeight(grid, style) {
  // --grid-max is a length (e.g. 45vh): let the browser resolve it.
  const probe = document.createElement('div');
  probe.style.cssText = `position:absolute;visibility:hidden;height:${style.getPropertyValue('--grid-max') || '45vh'}`;
  grid.parentElement.append(probe);
  const h = probe.getBoundingClientRect().height;
  probe.remove();
  return h;
}

/** Equal tiles; the last row centred (each tile spans two half-width tracks). Returns the height used. */
function equalGrid(grid, tiles, W, H, gap, fit) {
  const { cols, rows, w, h } = bestGrid(tiles.length, W, H, gap, { fit });
  const half = (w - gap) / 2;
  grid.style.gridTemplateColumns = `repeat(${cols * 2}, ${half}px)`;
  grid.style.gridTemplateRows = `repeat(${rows}, ${h}px)`;
  const lastRowCount = tiles.length - (rows - 1) * cols;
  tiles.forEach((tile, i) => {
    const row = Math.floor(i / cols);
    const shift = row === rows - 1 ? cols - lastRowCount : 0;
    tile.style.gridRow = String(row + 1);
    tile.style.gridColumn = `${(i % cols) * 2 + 1 + shift} / span 2`;
  });
  return rows * h + (rows - 1) * gap;
}

/** One tile large, the rest in a strip; returns the height used. */
function speakerLayout(grid, tiles, main, W, H, gap, fit) {
  const others = tiles.filter((t) => t !== main);
  const m = others.length;
  const side = !fit && W / H > 1.3;  // a wide area: strip on the right
  if (side) {
    let sw = Math.min(MAX_STRIP, Math.max(MIN_STRIP, W * 0.2));
    let sh = sw / ASPECT;
    if (m * sh + (m - 1) * gap > H) { sh = (H - (m - 1) * gap) / m; sw = sh * ASPECT; }
    grid.style.gridTemplateColumns = `minmax(0, 1fr) ${Math.floor(sw)}px`;
    grid.style.gridTemplateRows = `1fr repeat(${m}, ${Math.floor(sh)}px) 1fr`;
    main.style.gridColumn = '1';
    main.style.gridRow = '1 / -1';
    others.forEach((t, i) => { t.style.gridColumn = '2'; t.style.gridRow = String(i + 2); });
    return H;
  }
  // Strip below: small tiles in one row, the main tile above them.
  const sw = Math.min(MAX_STRIP * 0.75, (W - (m + 1) * gap) / m);  // the two spacer tracks add gaps too
  const sh = Math.floor(sw / ASPECT);
  const mainH = Math.floor(fit ? Math.min(W / ASPECT, H - sh - gap) : H - sh - gap);
  grid.style.gridTemplateColumns = `1fr repeat(${m}, ${Math.floor(sw)}px) 1fr`;
  grid.style.gridTemplateRows = `${mainH}px ${sh}px`;
  main.style.gridColumn = '1 / -1';
  main.style.gridRow = '1';
  others.forEach((t, i) => { t.style.gridColumn = String(i + 2); t.style.gridRow = '2'; });
  return mainH + gap + sh;
}
