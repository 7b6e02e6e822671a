// What "Recommander" says: how many, and who (oneself first, then a few names, then how many more).
import assert from "node:assert/strict";
import { test } from "node:test";

import { countWords, whoWords } from "../src/recommend";

const words = {
  none: "Aucune recommandation",
  one: "1 recommandation",
  many: "{n} recommandations",
  who: "Recommandé par {names}",
  and: "{first} et {last}",
  others: "{n} autres personnes",
  you: "vous",
};

const people = (...names: string[]) => names.map((name, i) => ({ id: i + 1, name }));

test("the count in words", () => {
  assert.equal(countWords(0, words), "Aucune recommandation");
  assert.equal(countWords(1, words), "1 recommandation");
  assert.equal(countWords(4, words), "4 recommandations");
});

test("who recommends: oneself first, three names, then how many more", () => {
  assert.equal(whoWords([], 1, words), "");
  assert.equal(whoWords(people("Alice"), 1, words), "Recommandé par vous");
  assert.equal(whoWords(people("Alice", "Bob"), 1, words), "Recommandé par vous et Bob");
  assert.equal(whoWords(people("Alice", "Bob", "Carol"), 2, words), "Recommandé par vous, Alice et Carol");
  assert.equal(
    whoWords(people("Alice", "Bob", "Carol", "Dan", "Eve"), null, words),
    "Recommandé par Alice, Bob, Carol et 2 autres personnes",
  );
});
