// Where a page goes in the space's tree when dragged or moved with the keyboard.
import assert from "node:assert/strict";
import { test } from "node:test";

import { applyPlacement, dropPlacement, dropZone, keyboardPlacement, type TreeNode } from "../src/pagetree";

// 1 ─ 2 ─ 3        (1 has the children 2 and 3)
// 4
// 5 ─ 6
const tree = (): TreeNode[] => [
  { id: 1, children: [{ id: 2, children: [] }, { id: 3, children: [] }] },
  { id: 4, children: [] },
  { id: 5, children: [{ id: 6, children: [] }] },
];

const shape = (nodes: TreeNode[]): string =>
  nodes.map((n) => (n.children.length ? `${n.id}(${shape(n.children)})` : String(n.id))).join(" ");

test("up and down reorder among siblings, and stop at the ends", () => {
  assert.deepEqual(keyboardPlacement(tree(), 3, "up"), { parentId: 1, position: 0 });
  assert.deepEqual(keyboardPlacement(tree(), 4, "down"), { parentId: null, position: 2 });
  assert.equal(keyboardPlacement(tree(), 1, "up"), null);
  assert.equal(keyboardPlacement(tree(), 5, "down"), null);
  assert.equal(shape(applyPlacement(tree(), 4, { parentId: null, position: 2 })), "1(2 3) 5(6) 4");
});

test("nesting goes last under the page above; taking out goes just after the old parent", () => {
  assert.deepEqual(keyboardPlacement(tree(), 4, "indent"), { parentId: 1, position: 2 });
  assert.equal(shape(applyPlacement(tree(), 4, { parentId: 1, position: 2 })), "1(2 3 4) 5(6)");
  assert.equal(keyboardPlacement(tree(), 2, "indent"), null, "a first child has nothing above");
  assert.deepEqual(keyboardPlacement(tree(), 2, "outdent"), { parentId: null, position: 1 });
  assert.equal(shape(applyPlacement(tree(), 2, { parentId: null, position: 1 })), "1(3) 2 4 5(6)");
  assert.equal(keyboardPlacement(tree(), 4, "outdent"), null);
});

test("a row's top quarter drops before it, its bottom quarter after, its middle inside", () => {
  assert.equal(dropZone(2, 40), "before");
  assert.equal(dropZone(20, 40), "inside");
  assert.equal(dropZone(35, 40), "after");
});

test("a drop gives the position among the new siblings, the dragged page left out", () => {
  assert.deepEqual(dropPlacement(tree(), 4, 6, "inside"), { parentId: 6, position: 0 });
  assert.deepEqual(dropPlacement(tree(), 4, 1, "inside"), { parentId: 1, position: 2 });
  assert.deepEqual(dropPlacement(tree(), 1, 5, "after"), { parentId: null, position: 2 });
  assert.equal(shape(applyPlacement(tree(), 1, { parentId: null, position: 2 })), "4 5(6) 1(2 3)");
  assert.deepEqual(dropPlacement(tree(), 5, 4, "before"), { parentId: null, position: 1 });
  assert.deepEqual(dropPlacement(tree(), 6, 2, "after"), { parentId: 1, position: 1 });
});

test("a drop that changes nothing, or puts a page under itself, is refused", () => {
  assert.equal(dropPlacement(tree(), 4, 1, "after"), null, "already just after 1");
  assert.equal(dropPlacement(tree(), 4, 5, "before"), null, "already just before 5");
  assert.equal(dropPlacement(tree(), 1, 2, "inside"), null, "under its own child");
  assert.equal(dropPlacement(tree(), 1, 1, "inside"), null, "onto itself");
  assert.equal(dropPlacement(tree(), 3, 1, "inside"), null, "already last under 1");
});
