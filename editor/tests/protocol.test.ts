// The meeting's signaling socket against a real WebSocket server on loopback (the `ws` package).
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";

import WebSocket, { WebSocketServer } from "ws";

import { SignalingSocket, visioUrl, type ServerMessage } from "../src/meeting/protocol";

// Node 20 has no WebSocket global: the browser's is stood in for by `ws`, as in y-websocket's
// own node use.
(globalThis as unknown as { WebSocket: typeof WebSocket }).WebSocket = WebSocket;

let server: WebSocketServer;
let url: string;

before(async () => {
  server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(server, "listening");
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/visio/space-1`;
});

after(() => server.close());

test("the socket address is on the page's own origin, the room escaped", () => {
  const page = { protocol: "https:", host: "atelier.example.gouv.fr" };
  assert.equal(visioUrl(page, "meet-a b"), "wss://atelier.example.gouv.fr/visio/meet-a%20b");
  assert.equal(visioUrl({ protocol: "http:", host: "127.0.0.1:8000" }, "space-3"),
    "ws://127.0.0.1:8000/visio/space-3");
});

test("messages sent before the socket opens go out in order once it does", async () => {
  const received: unknown[] = [];
  const connected = new Promise<WebSocket>((resolve) => server.once("connection", resolve));
  const socket = new SignalingSocket(url, { message: () => {}, closed: () => {} });
  socket.send({ type: "hello", n: 1 });
  socket.send({ type: "hello", n: 2 });
  const peer = await connected;
  peer.on("message", (data) => received.push(JSON.parse(String(data))));
  while (received.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(received, [{ type: "hello", n: 1 }, { type: "hello", n: 2 }]);
  socket.close();
});

test("only JSON objects with a type reach the handler; the close code is passed on", async () => {
  const messages: ServerMessage[] = [];
  let closed: [number, string] | null = null;
  const connected = new Promise<WebSocket>((resolve) => server.once("connection", resolve));
  const done = new Promise<void>((resolve) => {
    new SignalingSocket(url, {
      message: (m) => messages.push(m),
      closed: (code, reason) => {
        closed = [code, reason];
        resolve();
      },
    });
  });
  const peer = await connected;
  peer.send("not json");
  peer.send(JSON.stringify([1, 2, 3]));
  peer.send(JSON.stringify({ no: "type" }));
  peer.send(Buffer.from(JSON.stringify({ type: "binary" })));
  peer.send(JSON.stringify({ type: "welcome", you: "p1" }));
  peer.close(4410, "removed by a host");
  await done;
  assert.deepEqual(messages, [{ type: "welcome", you: "p1" }]);
  assert.deepEqual(closed, [4410, "removed by a host"]);
});
