// A comment's anchor: two Yjs relative positions as JSON of base64, read back unchanged, that
// stay on their words while text is typed before them.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as Y from "yjs";

import { decodeAnchor, encodeAnchor } from "../src/anchors";

test("an anchor is read back and still points at its words after an insertion before them", () => {
  const doc = new Y.Doc();
  const text = doc.getText("t");
  text.insert(0, "Le budget du pont");
  const anchor = encodeAnchor(
    Y.createRelativePositionFromTypeIndex(text, 3),
    Y.createRelativePositionFromTypeIndex(text, 9),
  );
  assert.match(anchor, /^[\x20-\x7e]+$/); // printable ASCII, as the server wants
  text.insert(0, "Ainsi, ");
  const ends = decodeAnchor(anchor);
  assert.ok(ends);
  const from = Y.createAbsolutePositionFromRelativePosition(ends.from, doc)?.index ?? -1;
  const to = Y.createAbsolutePositionFromRelativePosition(ends.to, doc)?.index ?? -1;
  assert.equal(text.toString().slice(from, to), "budget");
});

test("anything else is no anchor", () => {
  assert.equal(decodeAnchor("nope"), null);
  assert.equal(decodeAnchor('{"from": 1}'), null);
});
