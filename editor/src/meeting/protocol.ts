// Meeting signaling over the WebSocket `/visio/{room}` (protocol in docs/visio.md).
export type Role = "host" | "member" | "guest";
export type Source = "camera" | "microphone" | "screen" | "screen-audio";

export interface TrackInfo {
  participant: string;
  track: string;
  kind: "audio" | "video";
  source: Source;
  muted: boolean;
}

export interface ParticipantInfo {
  id: string;
  name: string;
  role: Role;
  hand: boolean;
  tracks: TrackInfo[];
}

export interface ChatLine {
  participant: string;
  name: string;
  text: string;
  at: number;
}

export interface Welcome {
  you: string;
  name: string;
  role: Role;
  room: string;
  participants: ParticipantInfo[];
  active_speaker: string | null;
  chat: ChatLine[];
  ice_servers: RTCIceServer[];
}

/** Any message from the server: its `type` and fields, as sent. */
export type ServerMessage = { type: string } & Record<string, unknown>;

export type PeerName = "publish" | "subscribe";

export const REACTIONS = ["👍", "👏", "❤️", "😂", "😮", "🎉", "🙋", "👋"] as const;

/** `ws(s)://host/visio/{room}` on the page's own origin. */
export function visioUrl(origin: Pick<Location, "protocol" | "host">, room: string): string {
  const scheme = origin.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${origin.host}/visio/${encodeURIComponent(room)}`;
}

export interface SignalingHandlers {
  message(message: ServerMessage): void;
  closed(code: number, reason: string): void;
}

/** One signaling socket: JSON out, parsed messages and the close code in. */
export class SignalingSocket {
  private readonly socket: WebSocket;
  private readonly queue: string[];

  constructor(url: string, handlers: SignalingHandlers) {
    this.queue = [];
    this.socket = new WebSocket(url);
    this.socket.addEventListener("open", () => {
      for (const text of this.queue.splice(0)) this.socket.send(text);
    });
    this.socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(event.data);
      } catch {
        return;
      }
      if (parsed && typeof parsed === "object" && typeof (parsed as ServerMessage).type === "string") {
        handlers.message(parsed as ServerMessage);
      }
    });
    this.socket.addEventListener("close", (event) => handlers.closed(event.code, event.reason));
  }

  send(message: { type: string } & Record<string, unknown>): void {
    const text = JSON.stringify(message);
    if (this.socket.readyState === WebSocket.CONNECTING) this.queue.push(text);
    else if (this.socket.readyState === WebSocket.OPEN) this.socket.send(text);
  }

  close(): void {
    this.socket.close(1000);
  }
}
