// The comments panel's pure parts: a person's text as comment HTML, what each may do, which
// anchors are highlighted.
import assert from "node:assert/strict";
import { test } from "node:test";

import { allowed, highlightsOf, textToHtml, type Comment } from "../src/comments";

function comment(id: number, author: number, more: Partial<Comment> = {}): Comment {
  return {
    id,
    thread_id: null,
    author: { id: author, name: `P${author}` },
    body: "<p>x</p>",
    anchor: null,
    quote: null,
    orphaned: false,
    resolved: false,
    created_at: "2026-01-01T00:00:00+00:00",
    edited: false,
    deleted: false,
    ...more,
  };
}

test("text becomes paragraphs and line breaks, escaped", () => {
  assert.equal(textToHtml("  Bonjour <b>&\nà tous\n\nSuite  "), "<p>Bonjour &lt;b&gt;&amp;<br>à tous</p><p>Suite</p>");
});

test("authors edit their own; editors and the thread's author resolve; readers do nothing", () => {
  const root = comment(1, 10);
  const reply = comment(2, 20, { thread_id: 1 });
  const author = { can_comment: true, can_resolve_all: false, me: 10 };
  assert.deepEqual(allowed(root, root, author), { edit: true, resolve: true, reply: true });
  assert.deepEqual(allowed(reply, root, author), { edit: false, resolve: true, reply: true });
  const other = { can_comment: true, can_resolve_all: false, me: 20 };
  assert.deepEqual(allowed(root, root, other), { edit: false, resolve: false, reply: true });
  assert.equal(allowed(reply, root, other).edit, true);
  const editor = { can_comment: true, can_resolve_all: true, me: 30 };
  assert.equal(allowed(root, root, editor).resolve, true);
  const reader = { can_comment: false, can_resolve_all: false, me: 10 };
  assert.deepEqual(allowed(root, root, reader), { edit: false, resolve: false, reply: false });
  assert.equal(allowed(comment(3, 10, { deleted: true }), root, author).edit, false);
});

test("only open threads whose words are there are highlighted", () => {
  const threads = [
    comment(1, 1, { anchor: "a" }),
    comment(2, 1, { anchor: "b", orphaned: true }),
    comment(3, 1, { anchor: "c", resolved: true }),
    comment(4, 1),
  ];
  assert.deepEqual(highlightsOf(threads), [{ id: 1, anchor: "a" }]);
});
