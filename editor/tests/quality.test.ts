// Connection quality from getStats: the thresholds, and loss measured per interval.
import assert from "node:assert/strict";
import { test } from "node:test";

import { QualityMeter, classify } from "../src/meeting/quality";

test("good under 150 ms and 2 % loss, fair under 400 ms and 8 %, else poor", () => {
  assert.equal(classify(149, 1.9), "good");
  assert.equal(classify(150, 0), "fair");
  assert.equal(classify(20, 2), "fair");
  assert.equal(classify(399, 7.9), "fair");
  assert.equal(classify(400, 0), "poor");
  assert.equal(classify(10, 8), "poor");
  assert.equal(classify(null, 0), "unknown");
  assert.equal(classify(null, 3), "fair");
});

type Stat = Record<string, unknown>;

function peer(stats: () => Stat[], state = "connected"): RTCPeerConnection {
  const fake = {
    connectionState: state,
    getStats: async () => new Map(stats().map((s, i) => [String(i), s])),
  };
  return fake as unknown as RTCPeerConnection;
}

test("loss and round trip are measured over the time since the last sample", async () => {
  let received = 1000;
  let lost = 0;
  const pc = peer(() => [
    { type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: 0.05 },
    { type: "inbound-rtp", packetsReceived: received, packetsLost: lost },
  ]);
  const meter = new QualityMeter();
  const first = await meter.sample([pc]);
  assert.equal(first.quality, "good");
  assert.equal(first.rttMs, 50);
  received += 90;
  lost += 10; // 10 % of this interval's packets, 1 % since the start
  const second = await meter.sample([pc]);
  assert.equal(second.lossPercent, 10);
  assert.equal(second.quality, "poor");
});

test("closed connections are left out, and the worst round trip counts", async () => {
  const closed = peer(() => {
    throw new Error("a closed connection is never asked");
  }, "closed");
  const near = peer(() => [
    { type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: 0.02 },
  ]);
  const far = peer(() => [
    { type: "candidate-pair", nominated: true, state: "succeeded", currentRoundTripTime: 0.3 },
  ]);
  const sample = await new QualityMeter().sample([closed, near, far]);
  assert.equal(sample.rttMs, 300);
  assert.equal(sample.quality, "fair");
});
