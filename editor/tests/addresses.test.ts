// The document socket's address and room path, and the links the editor accepts.
import assert from "node:assert/strict";
import { test } from "node:test";

import { roomPath, syncServerUrl } from "../src/collab";
import { isAllowedHref } from "../src/editor";

test("the sync socket is on the page's own origin", () => {
  assert.equal(syncServerUrl({ protocol: "https:", host: "a.gouv.fr" }), "wss://a.gouv.fr/sync");
  assert.equal(syncServerUrl({ protocol: "http:", host: "127.0.0.1:8000" }), "ws://127.0.0.1:8000/sync");
});

test("a document name keeps its slashes and escapes the rest of each segment", () => {
  assert.equal(roomPath("space-3/page-9"), "space-3/page-9");
  assert.equal(roomPath("notes/a b?c#d"), "notes/a%20b%3Fc%23d");
});

test("links: the web, mail and the instance's own pages; never scripts or other hosts' paths", () => {
  for (const ok of ["https://x.gouv.fr/a", "http://x.fr", "mailto:a@b.fr", "/espaces/x/pages/3"]) {
    assert.ok(isAllowedHref(ok), ok);
  }
  for (const bad of ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "//evil.example/x", "ftp://x"]) {
    assert.ok(!isAllowedHref(bad), bad);
  }
});
