// The toolbar's one row, and the link dialog's pages found by title.
import assert from "node:assert/strict";
import { test } from "node:test";

import { matchPages, resolveLink } from "../src/link_pages";
import { fitCount } from "../src/toolbar_fit";

const buttons = (widths: number[], groupStarts: number[] = []) =>
  widths.map((width, index) => ({ width, gapBefore: groupStarts.includes(index) ? 12 : 4 }));

test("every button stays on the row when they all fit, without a Plus button", () => {
  assert.equal(fitCount(buttons([100, 100, 100]), 308, 60, 12), 3);
});

test("otherwise as many as fit beside the Plus button, in order", () => {
  // 100 | 104 → 204 | 316 (group gap) → 420
  const items = buttons([100, 100, 100, 100], [2]);
  assert.equal(fitCount(items, 419, 60, 12), 3, "420 does not fit; 316 + 12 + 60 = 388 does");
  assert.equal(fitCount(items, 387, 60, 12), 2, "316 + 72 = 388 no longer fits");
  assert.equal(fitCount(items, 50, 60, 12), 0, "nothing fits: everything behind Plus");
});

const pages = [
  { title: "Compte rendu du 3 mars", url: "/espaces/p/pages/2" },
  { title: "Réunion de rentrée", url: "/espaces/p/pages/3" },
  { title: "Accueil", url: "/espaces/p/pages/1" },
  { title: "Budget des réunions", url: "/espaces/p/pages/4" },
];

test("pages are found by words of their title, accents and case ignored, prefixes first", () => {
  assert.deepEqual(
    matchPages(pages, "reun").map((p) => p.title),
    ["Réunion de rentrée", "Budget des réunions"],
  );
  assert.deepEqual(matchPages(pages, "compte mars").map((p) => p.title), ["Compte rendu du 3 mars"]);
  assert.deepEqual(matchPages(pages, "https://reun"), [], "an address is not a title");
  assert.deepEqual(matchPages(pages, "  "), []);
});

test("applying links to an address, a page's exact title, or the only page matched", () => {
  assert.equal(resolveLink(pages, "https://x.fr")?.url, "https://x.fr");
  assert.equal(resolveLink(pages, "accueil")?.url, "/espaces/p/pages/1");
  assert.equal(resolveLink(pages, "rentrée")?.url, "/espaces/p/pages/3");
  assert.equal(resolveLink(pages, "/espaces/p/pages/4")?.title, "Budget des réunions");
  assert.equal(resolveLink(pages, "réunion"), null, "two pages: the person picks one");
  assert.equal(resolveLink(pages, "javascript:alert(1)"), null);
});
