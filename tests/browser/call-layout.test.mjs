// web/call-layout.mjs's arithmetic on its own (no browser): which grid the tiles get.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestGrid } from '../../web/call-layout.mjs';

test('the widest tile wins where the grid takes the height it is given', () => {
  assert.deepEqual(pick(bestGrid(1, 880, 650, 8)), { cols: 1, rows: 1, w: 880, h: 495 });
  assert.deepEqual(pick(bestGrid(3, 880, 650, 8)), { cols: 2, rows: 2, w: 436, h: 245 });
  assert.deepEqual(pick(bestGrid(9, 1600, 900, 8)), { cols: 3, rows: 3, w: 523, h: 294 });
  // A wide, low area puts tiles side by side.
  assert.equal(bestGrid(3, 1600, 300, 8).cols, 3);
});

test('where the grid grows to its tiles (a phone), a second row must pay for itself', () => {
  assert.deepEqual(pick(bestGrid(2, 378, 288, 6, { fit: true })), { cols: 2, rows: 1, w: 186, h: 104 });
  assert.deepEqual(pick(bestGrid(3, 378, 288, 6, { fit: true })), { cols: 2, rows: 2, w: 186, h: 104 });
});

test('nothing fits in no space', () => {
  assert.equal(bestGrid(3, 0, 500), null);
});

const pick = ({ cols, rows, w, h }) => ({ cols, rows, w, h });
