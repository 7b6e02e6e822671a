// One shared document: a Y.Doc kept on this device (IndexedDB) and synced with the server
// through the stock y-websocket provider, plus the connection state shown to the user.
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { IndexeddbPersistence } from "y-indexeddb";

/** What the status line tells the user. */
export type ConnectionState = "syncing" | "saved" | "offline" | "refused";

export type StatusLabels = Record<ConnectionState, string>;

export const FRENCH_LABELS: StatusLabels = {
  syncing: "Synchronisation…",
  saved: "Enregistré",
  offline: "Hors ligne — modifications gardées sur cet appareil",
  refused: "Accès refusé par le serveur — rechargez la page",
};

export interface CollabOptions {
  /** Document name, as in `/sync/{doc}`. */
  doc: string;
  /** A `?token=` the page was opened with; none means the session cookie. */
  token?: string | null;
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
  private refused = false;
  private readonly onOnline = (): void => this.goOnline();
  private readonly onOffline = (): void => this.goOffline();

  constructor(options: CollabOptions) {
    this.ydoc = new Y.Doc();
    // The IndexedDB copy is what lets edits survive closing the browser while offline.
    this.local = new IndexeddbPersistence(`atelier:${options.doc}`, this.ydoc);
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
      this.update();
    });
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
    // Offline, the device copy is all there is; online, wait for the server's content too.
    this.loaded = fromDevice.then(() =>
      navigator.onLine ? Promise.race([fromServer, this.untilOffline()]) : undefined,
    );
    this.update();
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The whole document as one Yjs update (tests capture real editor documents with it). */
  encodeState(): Uint8Array {
    return Y.encodeStateAsUpdate(this.ydoc);
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

  private computeState(): ConnectionState {
    if (this.refused) return "refused";
    if (!navigator.onLine || !this.provider.shouldConnect) return "offline";
    if (this.provider.wsconnected && this.provider.synced) return "saved";
    // Retrying after a lost connection: the edits are still only on this device.
    if (this.lostConnection && !this.provider.wsconnected) return "offline";
    return "syncing";
  }

  private update(): void {
    const next = this.computeState();
    if (next === this.current) return;
    this.current = next;
    for (const listener of [...this.listeners]) listener(next);
  }
}
