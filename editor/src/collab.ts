// One shared document: a Y.Doc kept on this device (IndexedDB) and synced with the server
// through the stock y-websocket provider, plus the connection state shown to the user.
import * as Y from "yjs";
import * as encoding from "lib0/encoding";
import * as authProtocol from "y-protocols/auth";
import * as syncProtocol from "y-protocols/sync";
import { WebsocketProvider, messageAuth, messageSync } from "y-websocket";
import { IndexeddbPersistence } from "y-indexeddb";

import { RECEIPT_GRACE_MS, connectionState, type ConnectionState } from "./connection";

export { RECEIPT_GRACE_MS, type ConnectionState } from "./connection";
/** Edits are confirmed in bursts: one receipt request per pause this long. */
const RECEIPT_DEBOUNCE_MS = 250;

export type StatusLabels = Record<ConnectionState, string>;

export const FRENCH_LABELS: StatusLabels = {
  syncing: "Synchronisation…",
  saved: "Enregistré",
  offline: "Hors ligne — modifications gardées sur cet appareil",
  refused: "Accès refusé par le serveur — rechargez la page",
  readonly: "Lecture seule : votre accès a changé",
};

export interface CollabOptions {
  /** Document name, as in `/sync/{doc}`. */
  doc: string;
  /** A `?token=` the page was opened with; none means the session cookie. */
  token?: string | null;
  /** Whose copy this is on the device: people sharing a browser keep separate copies. */
  storeKey?: string;
  /** Where the page is served from: the socket goes to the same origin. */
  origin?: Pick<Location, "protocol" | "host">;
}

/** `ws(s)://host/sync`, the same origin as the page. */
export function syncServerUrl(origin: Pick<Location, "protocol" | "host">): string {
  const scheme = origin.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${origin.host}/sync`;
}

/** The room path: each segment escaped, slashes kept ("space/page" stays two segments). */
export function roomPath(doc: string): string {
  return doc.split("/").map(encodeURIComponent).join("/");
}

type Listener = (state: ConnectionState) => void;

export class SharedDocument {
  readonly ydoc: Y.Doc;
  readonly provider: WebsocketProvider;
  readonly local: IndexeddbPersistence;
  /** Resolves once the content is known: from the server, or from this device when offline. */
  readonly loaded: Promise<void>;
  private listeners: Listener[] = [];
  private current: ConnectionState = "syncing";
  private lostConnection = false;
  private readOnly = false;
  private refused = false;
  // y-websocket has no acknowledgements. After local edits we send a sync step 1 and take
  // the server's step 2 answer as the receipt: one socket, in order, so the server has read
  // every edit sent before it. "Saved" is shown only for edits the server has read.
  private localEdits = 0;
  /** For each receipt requested and not yet answered: the local edit count it covers. */
  private receipts: number[] = [];
  private unconfirmedSince: number | null = null;
  private receiptTimer = 0;
  private graceTimer = 0;
  private readonly onOnline = (): void => this.goOnline();
  private readonly onOffline = (): void => this.goOffline();

  constructor(options: CollabOptions) {
    this.ydoc = new Y.Doc();
    // The IndexedDB copy is what lets edits survive closing the browser while offline.
    const owner = options.storeKey ? `${options.storeKey}:` : "";
    this.local = new IndexeddbPersistence(`atelier:${owner}${options.doc}`, this.ydoc);
    const params: Record<string, string> = options.token ? { token: options.token } : {};
    this.provider = new WebsocketProvider(
      syncServerUrl(options.origin ?? window.location),
      roomPath(options.doc),
      this.ydoc,
      { params, connect: navigator.onLine, maxBackoffTime: 5000 },
    );
    this.provider.on("status", ({ status }) => {
      if (status === "disconnected") this.lostConnection = true;
      if (status === "connected") this.refused = false;
      this.update();
    });
    this.provider.on("sync", (synced: boolean) => {
      if (synced) this.lostConnection = false;
      // Edits made offline went out with the reconnection's sync: ask for their receipt.
      if (synced && this.unconfirmedSince !== null) this.requestReceipt();
      this.update();
    });
    this.provider.on("connection-close", () => {
      this.receipts = []; // that socket will not answer any more
    });
    this.ydoc.on("update", (_update: Uint8Array, origin: unknown) => {
      if (origin !== this.provider) this.noteLocalEdit();
    });
    const handleSync = this.provider.messageHandlers[messageSync];
    this.provider.messageHandlers[messageSync] = (encoder, decoder, provider, emit, type) => {
      const step = decoder.arr[decoder.pos];
      // Only a step 2 that came while receipts were awaited answers one (not the connection's).
      const awaited = this.receipts.length > 0;
      handleSync(encoder, decoder, provider, emit, type);
      if (step === syncProtocol.messageYjsSyncStep2 && awaited) this.receiptReceived();
    };
    // The server refused a write, or lowered this person's access while the page was open
    // (a role changed, the space archived): from now on the page is read-only.
    this.provider.messageHandlers[messageAuth] = (_encoder, decoder) => {
      authProtocol.readAuthMessage(decoder, this.ydoc, () => {
        this.readOnly = true;
        this.update();
      });
    };
    this.provider.on("closed", () => {
      // 44xx: the server refused this socket (signed out, link revoked); retrying cannot help.
      this.refused = true;
      this.update();
    });
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    if (!navigator.onLine) this.lostConnection = true;

    const fromServer = new Promise<void>((resolve) => {
      if (this.provider.synced) resolve();
      const onSync = (synced: boolean): void => {
        if (synced) {
          this.provider.off("sync", onSync);
          resolve();
        }
      };
      this.provider.on("sync", onSync);
    });
    const fromDevice = this.local.whenSynced.then(
      () => undefined,
      () => undefined,
    );
    // Online, the server's content is enough (the device copy merges in when it is read);
    // offline, wait for the device copy — all there is.
    this.loaded = Promise.race([
      fromServer,
      fromDevice.then(() => (navigator.onLine ? this.untilOffline() : undefined)),
    ]);
    this.update();
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The whole document as one Yjs update (tests capture real editor documents with it). */
  encodeState(): Uint8Array {
    return Y.encodeStateAsUpdate(this.ydoc);
  }

  /** Whether every local edit has been read by the server. */
  get confirmed(): boolean {
    return this.unconfirmedSince === null;
  }

  /** Call `listener` now and on every change of state. */
  onState(listener: Listener): void {
    this.listeners.push(listener);
    listener(this.current);
  }

  /** Close the socket as if the network had gone (tests and the browser's `offline`). */
  goOffline(): void {
    this.lostConnection = true;
    this.provider.disconnect();
    this.update();
  }

  goOnline(): void {
    if (!this.provider.shouldConnect) this.provider.connect();
    this.update();
  }

  destroy(): void {
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    this.provider.destroy();
    void this.local.destroy();
    this.ydoc.destroy();
  }

  private untilOffline(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.current === "offline" || this.current === "refused") resolve();
      };
      this.listeners.push(check);
    });
  }

  private noteLocalEdit(): void {
    this.localEdits += 1;
    if (this.unconfirmedSince === null) {
      this.unconfirmedSince = Date.now();
      window.clearTimeout(this.graceTimer);
      this.graceTimer = window.setTimeout(() => this.update(), RECEIPT_GRACE_MS);
    }
    if (!this.receiptTimer) {
      this.receiptTimer = window.setTimeout(() => this.requestReceipt(), RECEIPT_DEBOUNCE_MS);
    }
  }

  private requestReceipt(): void {
    window.clearTimeout(this.receiptTimer);
    this.receiptTimer = 0;
    const ws = this.provider.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.provider.synced) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, messageSync);
    syncProtocol.writeSyncStep1(encoder, this.ydoc);
    ws.send(encoding.toUint8Array(encoder));
    this.receipts.push(this.localEdits);
  }

  private receiptReceived(): void {
    const covered = this.receipts.shift();
    if (covered === this.localEdits) {
      this.unconfirmedSince = null;
      window.clearTimeout(this.graceTimer);
    }
    this.update();
  }

  private computeState(): ConnectionState {
    return connectionState({
      refused: this.refused,
      readOnly: this.readOnly,
      online: navigator.onLine,
      shouldConnect: this.provider.shouldConnect,
      connected: this.provider.wsconnected,
      synced: this.provider.synced,
      unconfirmedForMs: this.unconfirmedSince === null ? null : Date.now() - this.unconfirmedSince,
      lostConnection: this.lostConnection,
    });
  }

  private update(): void {
    const next = this.computeState();
    if (next === this.current) return;
    this.current = next;
    for (const listener of [...this.listeners]) listener(next);
  }
}
