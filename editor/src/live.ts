// The live event stream (`/live`, protocol in live/protocol.py): one socket per tab for
// notifications, comments and every other live list. It remembers the last event id it saw and,
// after a lost connection, says so again: the server sends exactly what was missed, once.

export interface LiveEvent {
  id: string;
  topic: string;
  kind: string;
  data: Record<string, unknown>;
}

type Handler = (event: LiveEvent) => void;

export interface LiveOptions {
  /** `ws(s)://host/live`; defaults to the page's own origin. */
  url?: string;
  /** Called when what was missed is too old to replay: fetch the current state again. */
  onReload?: () => void;
  /** Called when the server ends the stream for good (signed out: 4401, refused: 4403). */
  onEnded?: (code: number) => void;
  /** The WebSocket class (tests under node pass one). */
  WebSocketClass?: typeof WebSocket;
  /** Longest wait between reconnection attempts. */
  maxBackoffMs?: number;
}

/** `ws(s)://host/live` on the page's own origin. */
export function liveUrl(origin: Pick<Location, "protocol" | "host">): string {
  const scheme = origin.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${origin.host}/live`;
}

function idKey(id: string): [number, number] {
  const [ms, seq] = id.split("-").map(Number);
  return [ms ?? 0, seq ?? 0];
}

/** Whether event id `a` comes after `b`. */
export function after(a: string, b: string | null): boolean {
  if (b === null) return true;
  const [am, as] = idKey(a);
  const [bm, bs] = idKey(b);
  return am > bm || (am === bm && as > bs);
}

export class LiveStream {
  /** The last event id this tab has seen (null: none yet). */
  last: string | null = null;
  private socket: WebSocket | null = null;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly kinds = new Map<string, Set<Handler>>();
  private attempts = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly url: string;
  private readonly Socket: typeof WebSocket;

  constructor(private readonly options: LiveOptions = {}) {
    this.url = options.url ?? liveUrl(window.location);
    this.Socket = options.WebSocketClass ?? WebSocket;
  }

  /** Open the stream (again after `stop`). */
  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.socket?.close(1000);
    this.socket = null;
  }

  /** Follow `topic`; `handler` gets its events. Returns what stops following it. */
  subscribe(topic: string, handler: Handler): () => void {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
      this.send({ type: "subscribe", topic });
    }
    set.add(handler);
    return () => {
      const current = this.handlers.get(topic);
      if (!current) return;
      current.delete(handler);
      if (current.size === 0) {
        this.handlers.delete(topic);
        this.send({ type: "unsubscribe", topic });
      }
    };
  }

  /** Every event of `kind`, whatever its topic (the person's own notifications, say). */
  on(kind: string, handler: Handler): void {
    let set = this.kinds.get(kind);
    if (!set) {
      set = new Set();
      this.kinds.set(kind, set);
    }
    set.add(handler);
  }

  private connect(): void {
    const socket = new this.Socket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempts = 0;
      socket.send(JSON.stringify({ type: "hello", last: this.last, topics: [...this.handlers.keys()] }));
    });
    socket.addEventListener("message", (message: MessageEvent) => {
      if (typeof message.data !== "string") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(message.data);
      } catch {
        return;
      }
      if (parsed && typeof parsed === "object") this.receive(parsed as Record<string, unknown>);
    });
    socket.addEventListener("close", (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (event.code >= 4400 && event.code < 4500) {
        this.options.onEnded?.(event.code);
        return;
      }
      const delay = Math.min(250 * 2 ** this.attempts, this.options.maxBackoffMs ?? 8000);
      this.attempts += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  private receive(message: Record<string, unknown>): void {
    switch (message.type) {
      case "event": {
        const event = message as unknown as LiveEvent;
        if (!after(event.id, this.last)) return; // already seen: never twice
        this.last = event.id;
        for (const handler of this.handlers.get(event.topic) ?? []) handler(event);
        for (const handler of this.kinds.get(event.kind) ?? []) handler(event);
        break;
      }
      case "ready":
        if (typeof message.last === "string" && after(message.last, this.last)) this.last = message.last;
        break;
      case "reload":
        this.options.onReload?.();
        break;
      default:
        break;
    }
  }

  private send(message: Record<string, unknown>): void {
    if (this.socket && this.socket.readyState === this.Socket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
