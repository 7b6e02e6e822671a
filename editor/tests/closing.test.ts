// What the meeting client does when its socket closes: rejoin (and how soon), or end and why.
import assert from "node:assert/strict";
import { test } from "node:test";

import { RECONNECT_ATTEMPTS, closeOutcome } from "../src/meeting/closing";

test("a lost connection is retried, waiting twice as long each time up to 8 s", () => {
  const delays = [0, 1, 2, 3, 4, 5].map((attempts) => closeOutcome(1006, attempts, false));
  assert.deepEqual(
    delays.map((o) => (o.retry ? o.delayMs : null)),
    [1000, 2000, 4000, 8000, 8000, 8000],
  );
  assert.deepEqual(closeOutcome(1006, RECONNECT_ATTEMPTS, false), {
    retry: false,
    message: "endedLost",
  });
});

test("the waiting screen says why: server full, no media server, or the connection", () => {
  const status = (code: number): string | null => {
    const outcome = closeOutcome(code, 0, false);
    return outcome.retry ? outcome.status : null;
  };
  assert.equal(status(4503), "retryFull");
  assert.equal(status(1013), "retryUnavailable");
  assert.equal(status(1011), "retryLost");
});

test("a changed role rejoins at once as what one is now", () => {
  assert.deepEqual(closeOutcome(4100, 0, false), { retry: true, delayMs: 1000, status: "retryLost" });
});

test("refusals end the meeting with their own message", () => {
  const message = (code: number, inLobby = false): string | null => {
    const outcome = closeOutcome(code, 0, inLobby);
    return outcome.retry ? null : outcome.message;
  };
  assert.equal(message(1000), "endedLeft");
  assert.equal(message(4401), "endedForbidden");
  assert.equal(message(4403), "endedForbidden");
  assert.equal(message(4403, true), "endedRefused"); // a host did not let the guest in
  assert.equal(message(4410), "endedRemoved");
  assert.equal(message(4411), "endedByHost");
  assert.equal(message(4429), "endedFull");
  assert.equal(message(4999), "endedLost");
});
