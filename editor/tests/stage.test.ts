// The stage's layout: columns that follow the count and the stage's shape, the tile shown
// large, and chat times in the reader's time zone.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clockTime, knownTimeZone, spotlight, tileGrid, type StageTile } from "../src/meeting/stage";

test("one person fills a laptop's stage; two sit side by side; more make rows", () => {
  const laptop = (n: number) => tileGrid(n, 1200, 640, 8);
  assert.deepEqual([1, 2, 3, 4, 5, 9].map((n) => laptop(n).columns), [1, 2, 2, 2, 3, 3]);
  assert.equal(laptop(4).rows, 2);
  assert.equal(laptop(9).rows, 3);
  const one = laptop(1);
  assert.equal(one.height, 640); // as tall as the stage, 16:9
  assert.equal(one.width, Math.floor(640 * (16 / 9)));
  // Side by side even where one above the other would be a few pixels larger.
  assert.equal(tileGrid(2, 1264, 714, 8).columns, 2);
  const two = laptop(2);
  assert.equal(two.width, (1200 - 8) / 2);
  assert.ok(two.width * 2 + 8 <= 1200 && two.height <= 640);
});

test("on a phone held upright the tiles are square and stack in one column", () => {
  const phone = (n: number) => tileGrid(n, 374, 700, 8);
  assert.equal(phone(1).columns, 1);
  assert.equal(phone(1).width, phone(1).height);
  assert.equal(phone(2).columns, 1);
  assert.equal(phone(2).rows, 2);
  assert.equal(phone(5).columns, 2);
});

test("tiles always fit the stage", () => {
  for (const [w, h] of [
    [1280, 600],
    [374, 700],
    [900, 300],
    [300, 900],
  ]) {
    for (let n = 1; n <= 25; n += 1) {
      const g = tileGrid(n, w, h, 8);
      assert.ok(g.columns * g.rows >= n, `${n} in ${w}×${h}`);
      assert.ok(g.columns * g.width + (g.columns - 1) * 8 <= w + 0.5, `${n} wide in ${w}×${h}`);
      assert.ok(g.rows * g.height + (g.rows - 1) * 8 <= h + 0.5, `${n} tall in ${w}×${h}`);
    }
  }
});

test("before the stage has a size, the squarest grid", () => {
  assert.deepEqual(tileGrid(5, 0, 0), { columns: 3, rows: 2, width: 0, height: 0 });
  assert.equal(tileGrid(0, 800, 600).columns, 1);
});

const tiles: StageTile[] = [
  { key: "p1", screen: false, self: true },
  { key: "p2", screen: false, self: false },
  { key: "p2/screen", screen: true, self: false },
];
const none = {
  chosen: null,
  dismissed: new Set<string>(),
  speakerView: false,
  pinned: null,
  activeSpeaker: "p2",
  you: "p1",
};

test("someone else's shared screen is large by default, until sent back to the grid", () => {
  assert.equal(spotlight(tiles, none), "p2/screen");
  assert.equal(spotlight(tiles, { ...none, dismissed: new Set(["p2/screen"]) }), null);
  assert.equal(spotlight(tiles.slice(0, 2), none), null);
});

test("one's own shared screen stays in the grid unless one puts it large", () => {
  const mine: StageTile[] = [...tiles.slice(0, 2), { key: "p1/screen", screen: true, self: true }];
  assert.equal(spotlight(mine, none), null);
  assert.equal(spotlight(mine, { ...none, chosen: "p1/screen" }), "p1/screen");
  // A chosen tile that went (the share stopped) no longer counts.
  assert.equal(spotlight(tiles, { ...none, chosen: "p1/screen" }), "p2/screen");
});

test("speaker view shows the pinned person, else the speaker, else oneself", () => {
  const cams = tiles.slice(0, 2);
  assert.equal(spotlight(cams, { ...none, speakerView: true }), "p2");
  assert.equal(spotlight(cams, { ...none, speakerView: true, pinned: "p1" }), "p1");
  assert.equal(spotlight(cams, { ...none, speakerView: true, activeSpeaker: null }), "p1");
  // A screen shared by someone else comes first.
  assert.equal(spotlight(tiles, { ...none, speakerView: true }), "p2/screen");
});

test("chat times are the time of day in the reader's zone, Paris unless told", () => {
  const at = Date.UTC(2026, 11, 7, 18, 20); // 19:20 in Paris in winter
  assert.equal(clockTime(at, "fr", "Europe/Paris"), "19:20");
  assert.equal(clockTime(at, "fr", "America/Montreal"), "13:20");
  assert.equal(clockTime(at, "fr", "Pas/UneZone"), "19:20");
  assert.equal(knownTimeZone(undefined), "Europe/Paris");
  assert.equal(knownTimeZone("Asia/Tokyo"), "Asia/Tokyo");
  assert.match(clockTime(at, "en", "Europe/Paris"), /^07:20\s?PM$/);
});
