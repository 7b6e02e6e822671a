// Guests knocking in the lobby: who is new, and the sound preference kept in this browser.
import assert from "node:assert/strict";
import { test } from "node:test";

import { knockSoundOn, newArrivals, setKnockSound } from "../src/meeting/knock";

test("only those not waiting before are new arrivals", () => {
  const before = new Set(["p3"]);
  const waiting = [
    { id: "p3", name: "Claire" },
    { id: "p4", name: "Dan" },
  ];
  assert.deepEqual(newArrivals(before, waiting), [{ id: "p4", name: "Dan" }]);
  assert.deepEqual(newArrivals(new Set(["p3", "p4"]), waiting), []);
});

test("the knock sound is on until turned off, and where storage is refused", () => {
  const data = new Map<string, string>();
  const store = {
    getItem: (key: string) => data.get(key) ?? null,
    setItem: (key: string, value: string) => void data.set(key, value),
  };
  assert.equal(knockSoundOn(store), true);
  setKnockSound(store, false);
  assert.equal(knockSoundOn(store), false);
  setKnockSound(store, true);
  assert.equal(knockSoundOn(store), true);
  const refusing = {
    getItem: (): string | null => {
      throw new Error("SecurityError");
    },
    setItem: (): void => {
      throw new Error("SecurityError");
    },
  };
  assert.equal(knockSoundOn(refusing), true);
  setKnockSound(refusing, false); // no exception
  assert.equal(knockSoundOn(null), true);
});
