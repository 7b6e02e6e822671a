// The browser side of the live stream against a real WebSocket server on loopback (`ws`):
// it says where it stands when it comes back, never hands an event on twice, and stops for good
// when the server refuses it.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after as afterAll, before, test } from "node:test";

import WebSocket, { WebSocketServer } from "ws";

import { LiveStream, after, liveUrl, type LiveEvent } from "../src/live";

let server: WebSocketServer;
let url: string;
const hellos: Record<string, unknown>[] = [];
let peers: WebSocket[] = [];

before(async () => {
  server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (peer) => {
    peers.push(peer);
    peer.on("message", (data) => {
      const message = JSON.parse(String(data)) as Record<string, unknown>;
      if (message.type === "hello") {
        hellos.push(message);
        peer.send(JSON.stringify({ type: "ready", last: message.last ?? "0-0" }));
      }
    });
  });
  await once(server, "listening");
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
});

afterAll(() => server.close());

const event = (id: string, topic = "item:page:1"): string =>
  JSON.stringify({ type: "event", id, topic, kind: "comment", data: { id } });

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i += 1) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), "timed out");
}

test("ids compare by milliseconds, then by sequence", () => {
  assert.ok(after("1000-1", "1000-0"));
  assert.ok(after("1001-0", "1000-9"));
  assert.ok(!after("999-9", "1000-0"));
  assert.ok(after("1-0", null));
  assert.equal(liveUrl({ protocol: "https:", host: "a.gouv.fr" }), "wss://a.gouv.fr/live");
});

test("after a lost connection it comes back with its topics and the last id it saw", async () => {
  hellos.length = 0;
  peers = [];
  const stream = new LiveStream({ url, WebSocketClass: WebSocket as unknown as typeof globalThis.WebSocket, maxBackoffMs: 50 });
  const got: LiveEvent[] = [];
  stream.subscribe("item:page:1", (e) => got.push(e));
  stream.start();
  await until(() => hellos.length === 1);
  assert.deepEqual(hellos[0], { type: "hello", last: null, topics: ["item:page:1"] });
  peers[0].send(event("1000-1"));
  peers[0].send(event("1000-2"));
  await until(() => got.length === 2);
  peers[0].terminate(); // the network drops
  await until(() => hellos.length === 2);
  assert.deepEqual(hellos[1], { type: "hello", last: "1000-2", topics: ["item:page:1"] });
  // An event it already had, sent again, is not handed on twice.
  peers[1].send(event("1000-2"));
  peers[1].send(event("1000-3"));
  await until(() => got.length === 3);
  assert.deepEqual(got.map((e) => e.id), ["1000-1", "1000-2", "1000-3"]);
  stream.stop();
});

test("a refusal ends the stream for good and says so", async () => {
  hellos.length = 0;
  peers = [];
  let ended: number | null = null;
  const stream = new LiveStream({
    url,
    WebSocketClass: WebSocket as unknown as typeof globalThis.WebSocket,
    maxBackoffMs: 20,
    onEnded: (code) => (ended = code),
  });
  stream.start();
  await until(() => hellos.length === 1);
  peers[0].close(4401, "signed out");
  await until(() => ended !== null);
  assert.equal(ended, 4401);
  await new Promise((r) => setTimeout(r, 100)); // several backoff periods: no new hello
  assert.equal(hellos.length, 1);
  stream.stop();
});

test("reload is passed on, and events reach the handlers of their kind", async () => {
  hellos.length = 0;
  peers = [];
  let reloads = 0;
  const kinds: string[] = [];
  const stream = new LiveStream({
    url,
    WebSocketClass: WebSocket as unknown as typeof globalThis.WebSocket,
    onReload: () => (reloads += 1),
  });
  stream.on("comment", (e) => kinds.push(e.topic));
  stream.start();
  await until(() => hellos.length === 1);
  peers[0].send(JSON.stringify({ type: "reload", reason: "too old" }));
  peers[0].send(event("2000-1", "user:7"));
  await until(() => kinds.length === 1);
  assert.equal(reloads, 1);
  assert.deepEqual(kinds, ["user:7"]);
  stream.stop();
});
