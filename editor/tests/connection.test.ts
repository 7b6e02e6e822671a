// The status line's state machine: every state, and which fact wins when several hold.
import assert from "node:assert/strict";
import { test } from "node:test";

import { RECEIPT_GRACE_MS, connectionState, type ConnectionFacts } from "../src/connection";

const saved: ConnectionFacts = {
  refused: false,
  readOnly: false,
  online: true,
  shouldConnect: true,
  connected: true,
  synced: true,
  unconfirmedForMs: null,
  lostConnection: false,
};

test("connected, synced and nothing waiting: saved", () => {
  assert.equal(connectionState(saved), "saved");
});

test("an edit waiting less than the grace period still reads saved, then syncing", () => {
  assert.equal(connectionState({ ...saved, unconfirmedForMs: RECEIPT_GRACE_MS - 1 }), "saved");
  assert.equal(connectionState({ ...saved, unconfirmedForMs: RECEIPT_GRACE_MS }), "syncing");
});

test("the browser offline, or the provider disconnected on purpose: offline", () => {
  assert.equal(connectionState({ ...saved, online: false }), "offline");
  assert.equal(connectionState({ ...saved, shouldConnect: false }), "offline");
});

test("a dropped connection retrying keeps saying offline: the edits are only on this device", () => {
  const dropped = { ...saved, connected: false, synced: false, lostConnection: true };
  assert.equal(connectionState(dropped), "offline");
  assert.equal(connectionState({ ...dropped, lostConnection: false }), "syncing");
});

test("connected but not yet synced: syncing", () => {
  assert.equal(connectionState({ ...saved, synced: false }), "syncing");
});

test("refused wins over everything, read-only over everything else", () => {
  const everything = { ...saved, refused: true, readOnly: true, online: false };
  assert.equal(connectionState(everything), "refused");
  assert.equal(connectionState({ ...everything, refused: false }), "readonly");
  assert.equal(connectionState({ ...saved, readOnly: true, unconfirmedForMs: 10_000 }), "readonly");
});
