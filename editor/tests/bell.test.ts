// The bell's words and badge for every count.
import assert from "node:assert/strict";
import { test } from "node:test";

import { badgeText, bellLabel, unreadOf } from "../src/bell";

const labels = {
  none: "Notifications",
  one: "Notifications (1 non lue)",
  many: "Notifications ({n} non lues)",
};

test("the bell says how many are unread, in words", () => {
  assert.equal(bellLabel(0, labels), "Notifications");
  assert.equal(bellLabel(1, labels), "Notifications (1 non lue)");
  assert.equal(bellLabel(3, labels), "Notifications (3 non lues)");
});

test("the badge is empty at zero and stops at 99+", () => {
  assert.equal(badgeText(0), "");
  assert.equal(badgeText(7), "7");
  assert.equal(badgeText(99), "99");
  assert.equal(badgeText(100), "99+");
});

test("only a count an event really carries is taken", () => {
  assert.equal(unreadOf({ unread: 4 }), 4);
  assert.equal(unreadOf({ unread: 0 }), 0);
  assert.equal(unreadOf({ unread: "4" }), null);
  assert.equal(unreadOf({ unread: -1 }), null);
  assert.equal(unreadOf({}), null);
});
