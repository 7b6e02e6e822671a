// Where a page goes in the space's tree when it is dragged or moved with the keyboard: pure
// computations on a tree of ids, answering what the server's move takes (POST .../deplacer:
// the new parent, and the position among the new siblings, the moved page left out).

export interface TreeNode {
  id: number;
  children: TreeNode[];
}

export interface Placement {
  parentId: number | null;
  position: number;
}

export type KeyboardMove = "up" | "down" | "indent" | "outdent";
export type DropZone = "before" | "inside" | "after";

interface Located {
  parent: TreeNode | null;
  siblings: TreeNode[];
  index: number;
  node: TreeNode;
}

export function locate(roots: TreeNode[], id: number, parent: TreeNode | null = null): Located | null {
  for (const [index, node] of roots.entries()) {
    if (node.id === id) return { parent, siblings: roots, index, node };
    const found = locate(node.children, id, node);
    if (found) return found;
  }
  return null;
}

function contains(node: TreeNode, id: number): boolean {
  return node.id === id || node.children.some((child) => contains(child, id));
}

/** The place a keyboard move takes a page to; null when it cannot go that way. */
export function keyboardPlacement(roots: TreeNode[], id: number, move: KeyboardMove): Placement | null {
  const here = locate(roots, id);
  if (!here) return null;
  const parentId = here.parent?.id ?? null;
  switch (move) {
    case "up":
      return here.index > 0 ? { parentId, position: here.index - 1 } : null;
    case "down":
      return here.index < here.siblings.length - 1 ? { parentId, position: here.index + 1 } : null;
    case "indent": {
      if (here.index === 0) return null;
      const previous = here.siblings[here.index - 1];
      return { parentId: previous.id, position: previous.children.length };
    }
    case "outdent": {
      if (!here.parent) return null;
      const above = locate(roots, here.parent.id);
      if (!above) return null;
      return { parentId: above.parent?.id ?? null, position: above.index + 1 };
    }
  }
}

/** Which part of a row the pointer is over: its top quarter, its bottom quarter, or between. */
export function dropZone(offsetY: number, height: number): DropZone {
  if (offsetY < height / 4) return "before";
  if (offsetY > (height * 3) / 4) return "after";
  return "inside";
}

/** The place a page dropped on another's row goes to; null for a drop that changes nothing or
 * would put a page under itself. */
export function dropPlacement(
  roots: TreeNode[],
  dragged: number,
  target: number,
  zone: DropZone,
): Placement | null {
  const moving = locate(roots, dragged);
  const onto = locate(roots, target);
  if (!moving || !onto || contains(moving.node, target)) return null;
  let placement: Placement;
  if (zone === "inside") {
    const kids = onto.node.children.filter((child) => child.id !== dragged);
    placement = { parentId: target, position: kids.length };
  } else {
    const others = onto.siblings.filter((sibling) => sibling.id !== dragged);
    const at = others.findIndex((sibling) => sibling.id === target);
    placement = { parentId: onto.parent?.id ?? null, position: zone === "before" ? at : at + 1 };
  }
  const sameParent = placement.parentId === (moving.parent?.id ?? null);
  return sameParent && placement.position === moving.index ? null : placement;
}

/** The tree once a page is moved (a copy; what the server does with the same placement). */
export function applyPlacement(roots: TreeNode[], id: number, placement: Placement): TreeNode[] {
  const copy = (nodes: TreeNode[]): TreeNode[] =>
    nodes.map((node) => ({ id: node.id, children: copy(node.children) }));
  const tree = copy(roots);
  const here = locate(tree, id);
  if (!here) return tree;
  here.siblings.splice(here.index, 1);
  const siblings =
    placement.parentId === null ? tree : locate(tree, placement.parentId)?.node.children;
  if (!siblings) return copy(roots);
  const at = Math.max(0, Math.min(placement.position, siblings.length));
  siblings.splice(at, 0, here.node);
  return tree;
}
