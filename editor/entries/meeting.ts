// Entry for the meeting page (web/templates/visio/meeting.html). The server renders the
// configuration as JSON in <script type="application/json" id="meeting-config"> (the CSP
// forbids inline scripts):
//   room        the meeting's name (`space-<id>` or `meet-<name>`)
//   strings     the page's texts in the visitor's language (see src/meeting/strings.ts)
// The meeting-notes panel is the page editor itself: the page loads build/page.js, which
// mounts on #editor exactly as on a page view (same modules, same socket, same roles).
// Steps: pre-join (devices and preview) → lobby, for guests → the meeting → ended.
//
// One file with no imports or exports, on purpose: with esbuild's code splitting, an entry that
// imports modules shares esbuild's runtime chunk with page.js, and page.js would then need a
// chunk that its offline copy (editor/src/offline.ts) does not keep.

// ---- strings ----------------------------------------------------------------
// The meeting page's texts: French defaults, replaced by the server's (the visitor's language)
// from the page's JSON configuration.

const FRENCH_STRINGS = {
  you: "{name} (vous)",
  host: "hôte",
  guest: "invité·e",
  handRaised: "main levée",
  micMuted: "micro coupé",
  cameraOff: "caméra coupée",
  speaking: "parle",
  screenOf: "Écran de {name}",
  muteOne: "Couper le micro de {name}",
  remove: "Retirer {name}",
  admit: "Faire entrer {name}",
  refuse: "Refuser {name}",
  lobbyCount: "En salle d’attente : {count}",
  reactionFrom: "{name} : {emoji}",
  joinedNotice: "{name} a rejoint la réunion",
  leftNotice: "{name} a quitté la réunion",
  handNotice: "{name} lève la main",
  mutedByHost: "Un hôte a coupé votre micro.",
  qualityGood: "Connexion : bonne",
  qualityFair: "Connexion : moyenne",
  qualityPoor: "Connexion : mauvaise",
  qualityUnknown: "Connexion : en cours…",
  qualityDetail: "{rtt} ms, {loss} % de pertes",
  cameraN: "Caméra {n}",
  microphoneN: "Micro {n}",
  noCamera: "Sans caméra",
  noMicrophone: "Sans micro",
  mediaError: "Caméra ou micro inaccessible : vous pouvez rejoindre sans.",
  screenError: "Le partage d’écran n’a pas pu démarrer.",
  endedLeft: "Vous avez quitté la réunion.",
  endedByHost: "La réunion est terminée.",
  endedRemoved: "Un hôte vous a retiré de la réunion.",
  endedRefused: "Un hôte n’a pas accepté votre entrée.",
  endedFull: "La réunion est complète.",
  endedForbidden: "Vous n’avez pas accès à cette réunion.",
  endedLost: "La connexion à la réunion a été perdue.",
  endedStopping: "Le serveur de réunion redémarre : rejoignez à nouveau dans un instant.",
};

type Strings = typeof FRENCH_STRINGS;

/** The server's strings over the French defaults (unknown keys and non-strings ignored). */
function readStrings(raw: unknown): Strings {
  const strings = { ...FRENCH_STRINGS };
  if (raw && typeof raw === "object") {
    for (const key of Object.keys(strings) as (keyof Strings)[]) {
      const value = (raw as Record<string, unknown>)[key];
      if (typeof value === "string" && value) strings[key] = value;
    }
  }
  return strings;
}

/** "{name} a rejoint" + {name: "Alice"} → "Alice a rejoint". */
function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole,
  );
}

// ---- protocol ---------------------------------------------------------------
// Meeting signaling over the WebSocket `/visio/{room}` (protocol in docs/visio.md).

type Role = "host" | "member" | "guest";
type Source = "camera" | "microphone" | "screen" | "screen-audio";

interface TrackInfo {
  participant: string;
  track: string;
  kind: "audio" | "video";
  source: Source;
  muted: boolean;
}

interface ParticipantInfo {
  id: string;
  name: string;
  role: Role;
  hand: boolean;
  tracks: TrackInfo[];
}

interface ChatLine {
  participant: string;
  name: string;
  text: string;
  at: number;
}

interface Welcome {
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
type ServerMessage = { type: string } & Record<string, unknown>;

type PeerName = "publish" | "subscribe";

const REACTIONS = ["👍", "👏", "❤️", "😂", "😮", "🎉", "🙋", "👋"] as const;

/** `ws(s)://host/visio/{room}` on the page's own origin. */
function visioUrl(origin: Pick<Location, "protocol" | "host">, room: string): string {
  const scheme = origin.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${origin.host}/visio/${encodeURIComponent(room)}`;
}

interface SignalingHandlers {
  message(message: ServerMessage): void;
  closed(code: number, reason: string): void;
}

/** One signaling socket: JSON out, parsed messages and the close code in. */
class SignalingSocket {
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

// ---- quality ----------------------------------------------------------------
// Connection quality from getStats: round-trip time and packet loss over the last interval.

type Quality = "good" | "fair" | "poor" | "unknown";

interface QualitySample {
  quality: Quality;
  rttMs: number | null;
  lossPercent: number;
}

interface Counters {
  received: number;
  lost: number;
}

/** Good under 150 ms and 2 % loss, fair under 400 ms and 8 %, else poor. */
function classify(rttMs: number | null, lossPercent: number): Quality {
  if (rttMs === null && lossPercent === 0) return "unknown";
  const rtt = rttMs ?? 0;
  if (rtt < 150 && lossPercent < 2) return "good";
  if (rtt < 400 && lossPercent < 8) return "fair";
  return "poor";
}

/** Samples RTT and loss of a set of peer connections; each call covers the time since the last. */
class QualityMeter {
  private last: Counters;

  constructor() {
    this.last = { received: 0, lost: 0 };
  }

  async sample(pcs: RTCPeerConnection[]): Promise<QualitySample> {
    let rtt: number | null = null;
    const now: Counters = { received: 0, lost: 0 };
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      const report = await pc.getStats();
      report.forEach((stat: Record<string, unknown>) => {
        if (stat.type === "candidate-pair" && stat.nominated && stat.state === "succeeded") {
          const value = stat.currentRoundTripTime;
          if (typeof value === "number") rtt = Math.max(rtt ?? 0, value * 1000);
        }
        if (stat.type === "inbound-rtp") {
          now.received += Number(stat.packetsReceived ?? 0);
          now.lost += Math.max(0, Number(stat.packetsLost ?? 0));
        }
        if (stat.type === "remote-inbound-rtp") {
          const value = stat.roundTripTime;
          if (typeof value === "number" && rtt === null) rtt = value * 1000;
        }
      });
    }
    const received = Math.max(0, now.received - this.last.received);
    const lost = Math.max(0, now.lost - this.last.lost);
    this.last = now;
    const loss = received + lost > 0 ? (100 * lost) / (received + lost) : 0;
    return { quality: classify(rtt, loss), rttMs: rtt, lossPercent: loss };
  }
}

// ---- media ------------------------------------------------------------------
// The two peer connections of a participant (docs/visio.md): publish (we offer, the SFU
// answers) and subscribe (the SFU offers and renegotiates, we answer). The SFU (aiortc) takes
// the browser's candidates from the SDP, so each description is sent once gathering is over.

type Send = (message: { type: string } & Record<string, unknown>) => void;

const GATHERING_TIMEOUT_MS = 3000;

/** Resolves when the connection has gathered its candidates (or after a short wait). */
function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, GATHERING_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

/** The publish connection: one transceiver per source, reused when a source comes back. */
class Publisher {
  readonly pc: RTCPeerConnection;
  private readonly sources: Map<Source, RTCRtpTransceiver>;
  private chain: Promise<void>;
  private answered: ((sdp: string) => void) | null;

  constructor(
    iceServers: RTCIceServer[],
    private readonly send: Send,
  ) {
    this.pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.sources = new Map();
    this.chain = Promise.resolve();
    this.answered = null;
  }

  /** Send `track` as `source` (a new transceiver, or the one that carried it before). */
  async setSource(source: Source, track: MediaStreamTrack): Promise<void> {
    const known = this.sources.get(source);
    if (known) {
      await known.sender.replaceTrack(track);
      known.direction = "sendonly";
    } else {
      this.sources.set(source, this.pc.addTransceiver(track, { direction: "sendonly" }));
    }
  }

  /** Stop sending `source` (its mid is no longer listed, so the SFU unpublishes it). */
  async stopSource(source: Source): Promise<void> {
    const known = this.sources.get(source);
    if (!known) return;
    await known.sender.replaceTrack(null);
    known.direction = "inactive";
  }

  /** The mid that carries `source` now, if it sends. */
  midOf(source: Source): string | null {
    const t = this.sources.get(source);
    return t && t.direction === "sendonly" && t.mid !== null ? t.mid : null;
  }

  /** Offer the current set of tracks to the SFU and apply its answer (one at a time). */
  negotiate(): Promise<void> {
    this.chain = this.chain.then(() => this.offer()).catch((error: unknown) => {
      console.error("meeting: publish negotiation failed", error);
    });
    return this.chain;
  }

  /** The SFU's `publish_answer`. */
  acceptAnswer(sdp: string): void {
    const resolve = this.answered;
    this.answered = null;
    resolve?.(sdp);
  }

  close(): void {
    this.acceptAnswer("");
    this.pc.close();
  }

  private async offer(): Promise<void> {
    if (this.pc.signalingState === "closed") return;
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await gathered(this.pc);
    const tracks: { mid: string; source: Source }[] = [];
    for (const [source, t] of this.sources) {
      if (t.direction === "sendonly" && t.mid !== null && t.sender.track) {
        tracks.push({ mid: t.mid, source });
      }
    }
    const answer = new Promise<string>((resolve) => {
      this.answered = resolve;
    });
    this.send({ type: "publish", sdp: this.pc.localDescription?.sdp ?? offer.sdp ?? "", tracks });
    const sdp = await answer;
    if (sdp && this.pc.signalingState === "have-local-offer") {
      await this.pc.setRemoteDescription({ type: "answer", sdp });
    }
  }
}

/** The subscribe connection: answers each offer; maps SFU track ids to received tracks. */
class Subscriber {
  readonly pc: RTCPeerConnection;
  private chain: Promise<void>;

  constructor(
    iceServers: RTCIceServer[],
    private readonly send: Send,
    private readonly onTracks: (tracks: Map<string, MediaStreamTrack>) => void,
  ) {
    this.pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.chain = Promise.resolve();
  }

  /** A `subscribe` offer: answer it, then say which track each receiver now carries. */
  offer(sdp: string, revision: number, mids: Record<string, string | null>): void {
    this.chain = this.chain
      .then(async () => {
        if (this.pc.signalingState === "closed") return;
        await this.pc.setRemoteDescription({ type: "offer", sdp });
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        await gathered(this.pc);
        this.send({
          type: "subscribe_answer",
          sdp: this.pc.localDescription?.sdp ?? answer.sdp ?? "",
          revision,
        });
        const tracks = new Map<string, MediaStreamTrack>();
        for (const t of this.pc.getTransceivers()) {
          const id = t.mid !== null ? mids[t.mid] : null;
          if (id) tracks.set(id, t.receiver.track);
        }
        this.onTracks(tracks);
      })
      .catch((error: unknown) => {
        console.error("meeting: subscribe negotiation failed", error);
      });
  }

  close(): void {
    this.pc.close();
  }
}

// ---- client -----------------------------------------------------------------
// The meeting itself: signaling, the two peer connections, and the room's view (tiles,
// controls, participants, chat, reactions, host controls, lobby, quality).

const QUALITY_INTERVAL_MS = 2000;
// Closes after which the client joins again by itself: server stopping, abnormal closure,
// bad message (an answer the server stopped waiting for), internal error, restart, media failed.
const RECONNECT_CODES: ReadonlySet<number> = new Set([1001, 1005, 1006, 1008, 1011, 1012, 1013, 4408]);
const RECONNECT_ATTEMPTS = 6;
const REACTION_MS = 4000;

interface Person {
  id: string;
  name: string;
  role: Role;
  hand: boolean;
  tracks: Map<string, TrackInfo>;
}

interface LocalMedia {
  stream: MediaStream;
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text = "",
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function part<T extends HTMLElement = HTMLElement>(root: ParentNode, name: string): T {
  const node = root.querySelector<T>(`[data-part="${name}"]`);
  if (!node) throw new Error(`the meeting page lacks [data-part=${name}]`);
  return node;
}

function button(root: ParentNode, action: string): HTMLButtonElement {
  const node = root.querySelector<HTMLButtonElement>(`button[data-action="${action}"]`);
  if (!node) throw new Error(`the meeting page lacks the ${action} button`);
  return node;
}

function press(node: HTMLButtonElement, pressed: boolean): void {
  node.setAttribute("aria-pressed", String(pressed));
}

class MeetingClient {
  you: string;
  role: Role;
  publisher: Publisher | null;
  subscriber: Subscriber | null;
  readonly people: Map<string, Person>;
  private socket: SignalingSocket | null;
  private iceServers: RTCIceServer[];
  private received: Map<string, MediaStreamTrack>;
  private activeSpeaker: string | null;
  private screen: MediaStream | null;
  private micOn: boolean;
  private cameraOn: boolean;
  private hand: boolean;
  private speakerView: boolean;
  private waiting: { id: string; name: string }[];
  private qualityTimer: number;
  private readonly meter: QualityMeter;
  private finished: boolean;
  private attempts: number;

  private readonly stage: HTMLElement;
  private readonly audioBox: HTMLElement;
  private readonly peopleList: HTMLElement;
  private readonly lobbyList: HTMLElement;
  private readonly chatLog: HTMLElement;
  private readonly announcer: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly room: string,
    private readonly url: string,
    private readonly local: LocalMedia,
    private readonly strings: Strings,
  ) {
    this.you = "";
    this.role = "member";
    this.publisher = null;
    this.subscriber = null;
    this.people = new Map();
    this.socket = null;
    this.iceServers = [];
    this.received = new Map();
    this.activeSpeaker = null;
    this.screen = null;
    this.hand = false;
    this.speakerView = false;
    this.waiting = [];
    this.qualityTimer = 0;
    this.meter = new QualityMeter();
    this.finished = false;
    this.attempts = 0;
    this.micOn = local.audio !== null && local.audio.enabled;
    this.cameraOn = local.video !== null && local.video.enabled;
    this.stage = part(root, "stage");
    this.audioBox = part(root, "audio");
    this.peopleList = part(root, "people");
    this.lobbyList = part(root, "lobby-list");
    this.chatLog = part(root, "chat-log");
    this.announcer = part(root, "announcer");
  }

  // -- life cycle ----------------------------------------------------------------------------

  start(): void {
    this.bindControls();
    this.root.dataset.room = this.room;
    this.connect();
  }

  private connect(): void {
    this.show("connecting");
    const socket: SignalingSocket = new SignalingSocket(this.url, {
      // Events of a socket that was replaced (a reconnection) are stale.
      message: (message) => {
        if (this.socket === socket) this.onMessage(message);
      },
      closed: (code, reason) => {
        if (this.socket === socket) this.onClosed(code, reason);
      },
    });
    this.socket = socket;
  }

  /** Drop the peer connections and the room's state, keeping the camera and microphone. */
  private resetPeers(): void {
    window.clearInterval(this.qualityTimer);
    this.publisher?.close();
    this.subscriber?.close();
    this.publisher = null;
    this.subscriber = null;
    this.received = new Map();
    for (const track of this.screen?.getTracks() ?? []) track.stop();
    this.screen = null;
    press(button(this.root, "screen"), false);
    this.root.dataset.published = "false";
  }

  leave(): void {
    this.socket?.send({ type: "leave" });
    this.finish(this.strings.endedLeft);
  }

  private finish(reason: string): void {
    if (this.finished) return;
    this.finished = true;
    window.clearInterval(this.qualityTimer);
    this.publisher?.close();
    this.subscriber?.close();
    this.socket?.close();
    for (const track of this.local.stream.getTracks()) track.stop();
    for (const track of this.screen?.getTracks() ?? []) track.stop();
    part(this.root, "ended-reason").textContent = reason;
    this.show("ended");
  }

  private show(screen: "connecting" | "lobby" | "room" | "ended"): void {
    for (const name of ["connecting", "lobby", "room", "ended"]) {
      part(this.root, name).hidden = name !== screen;
    }
    this.root.dataset.screen = screen;
    if (screen === "ended" || screen === "lobby") {
      part(this.root, screen).querySelector<HTMLElement>("h2")?.focus();
    }
  }

  private onClosed(code: number, reason: string): void {
    if (this.finished) return;
    if (RECONNECT_CODES.has(code) && this.attempts < RECONNECT_ATTEMPTS) {
      // The media connection failed, the server restarted or the network dropped: join again
      // (a guest goes back through the lobby), waiting a little longer each time.
      const delay = Math.min(1000 * 2 ** this.attempts, 8000);
      this.attempts += 1;
      this.resetPeers();
      this.root.dataset.reconnecting = "true";
      window.setTimeout(() => {
        if (!this.finished) this.connect();
      }, delay);
      return;
    }
    const s = this.strings;
    const reasons: Record<number, string> = {
      1000: s.endedLeft,
      1001: s.endedStopping,
      4401: s.endedForbidden,
      4403: this.root.dataset.screen === "lobby" ? s.endedRefused : s.endedForbidden,
      4410: s.endedRemoved,
      4411: s.endedByHost,
      4429: s.endedFull,
    };
    if (code !== 1000 && code !== 1001 && !(code in reasons)) {
      console.warn("meeting: closed", code, reason);
    }
    this.finish(reasons[code] ?? s.endedLost);
  }

  // -- signaling -----------------------------------------------------------------------------

  private onMessage(m: ServerMessage): void {
    switch (m.type) {
      case "lobby":
        this.show("lobby");
        break;
      case "welcome":
        void this.onWelcome(m as unknown as Welcome);
        break;
      case "joined": {
        const info = m.participant as ParticipantInfo;
        this.addPerson(info);
        this.announce(format(this.strings.joinedNotice, { name: info.name }));
        this.render();
        break;
      }
      case "left": {
        const person = this.people.get(String(m.participant));
        this.people.delete(String(m.participant));
        if (person) this.announce(format(this.strings.leftNotice, { name: person.name }));
        this.render();
        break;
      }
      case "published": {
        const info = m as unknown as TrackInfo;
        this.people.get(info.participant)?.tracks.set(info.track, { ...info });
        this.render();
        break;
      }
      case "unpublished":
        this.people.get(String(m.participant))?.tracks.delete(String(m.track));
        this.render();
        break;
      case "muted":
        this.onMuted(String(m.participant), String(m.track), Boolean(m.muted), m.by);
        break;
      case "hand": {
        const person = this.people.get(String(m.participant));
        if (person) {
          person.hand = Boolean(m.raised);
          if (person.hand) this.announce(format(this.strings.handNotice, { name: person.name }));
        }
        if (m.participant === this.you) {
          this.hand = Boolean(m.raised);
          press(button(this.root, "hand"), this.hand);
        }
        this.render();
        break;
      }
      case "reaction":
        this.showReaction(String(m.participant), String(m.emoji));
        break;
      case "chat":
        this.addChat(m as unknown as ChatLine);
        break;
      case "active_speaker":
        this.activeSpeaker = String(m.participant);
        this.render();
        break;
      case "lobby_changed":
        this.waiting = (m.waiting as { id: string; name: string }[]) ?? [];
        this.renderLobby();
        break;
      case "publish_answer":
        this.publisher?.acceptAnswer(String(m.sdp));
        break;
      case "subscribe":
        this.onSubscribe(String(m.sdp), Number(m.revision), m.tracks as Record<string, string | null>);
        break;
      case "error":
        console.warn("meeting:", m.message);
        break;
    }
  }

  private async onWelcome(w: Welcome): Promise<void> {
    this.attempts = 0;
    this.root.dataset.reconnecting = "false";
    this.resetPeers();
    this.you = w.you;
    this.role = w.role;
    this.iceServers = w.ice_servers ?? [];
    this.activeSpeaker = w.active_speaker;
    this.people.clear();
    this.addPerson({ id: w.you, name: w.name, role: w.role, hand: false, tracks: [] });
    for (const p of w.participants) this.addPerson(p);
    this.chatLog.replaceChildren();
    for (const line of w.chat) this.addChat(line);
    this.root.dataset.role = w.role;
    for (const node of this.root.querySelectorAll<HTMLElement>("[data-host-only]")) {
      node.hidden = w.role !== "host";
    }
    this.show("room");
    this.render();
    this.renderLobby();
    await this.publish();
    this.qualityTimer = window.setInterval(() => void this.sampleQuality(), QUALITY_INTERVAL_MS);
  }

  private async publish(): Promise<void> {
    const send = (message: { type: string } & Record<string, unknown>): void =>
      this.socket?.send(message);
    this.publisher = new Publisher(this.iceServers, send);
    if (this.local.audio) await this.publisher.setSource("microphone", this.local.audio);
    if (this.local.video) await this.publisher.setSource("camera", this.local.video);
    if (!this.local.audio && !this.local.video) return;
    await this.publisher.negotiate();
    // Sources that start switched off are announced as muted once published.
    if (this.local.audio && !this.micOn) this.sendMuted("microphone", true);
    if (this.local.video && !this.cameraOn) this.sendMuted("camera", true);
    this.root.dataset.published = "true";
  }

  private onSubscribe(sdp: string, revision: number, mids: Record<string, string | null>): void {
    if (!this.subscriber) {
      this.subscriber = new Subscriber(
        this.iceServers,
        (message) => this.socket?.send(message),
        (tracks) => {
          this.received = tracks;
          this.render();
        },
      );
    }
    this.subscriber.offer(sdp, revision, mids);
  }

  private onMuted(participant: string, track: string, muted: boolean, by: unknown): void {
    const info = this.people.get(participant)?.tracks.get(track);
    if (info) info.muted = muted;
    if (participant === this.you && typeof by === "string" && muted) {
      const mid = this.publisher?.midOf("microphone");
      if (mid !== null && track === `${this.you}:${mid}`) {
        this.setMic(false, false);
        this.announce(this.strings.mutedByHost);
      }
    }
    this.render();
  }

  private sendMuted(source: Source, muted: boolean): void {
    const mid = this.publisher?.midOf(source);
    if (mid === null || mid === undefined) return;
    this.socket?.send({ type: "mute", track: `${this.you}:${mid}`, muted });
  }

  // -- controls ------------------------------------------------------------------------------

  private bindControls(): void {
    const r = this.root;
    const mic = button(r, "mic");
    const camera = button(r, "camera");
    mic.disabled = this.local.audio === null;
    camera.disabled = this.local.video === null;
    press(mic, this.micOn);
    press(camera, this.cameraOn);
    mic.addEventListener("click", () => this.setMic(!this.micOn, true));
    camera.addEventListener("click", () => this.setCamera(!this.cameraOn));
    const share = button(r, "screen");
    share.hidden = !navigator.mediaDevices?.getDisplayMedia;
    share.addEventListener("click", () => void this.toggleScreen());
    button(r, "hand").addEventListener("click", () => {
      this.socket?.send({ type: "hand", raised: !this.hand });
    });
    const view = button(r, "view");
    view.addEventListener("click", () => {
      this.speakerView = !this.speakerView;
      press(view, this.speakerView);
      this.render();
    });
    for (const panel of ["people", "chat", "notes"]) {
      const toggle = r.querySelector<HTMLButtonElement>(`button[data-panel="${panel}"]`);
      const box = r.querySelector<HTMLElement>(`[data-panel-box="${panel}"]`);
      if (!toggle || !box) continue;
      press(toggle, !box.hidden);
      toggle.addEventListener("click", () => {
        box.hidden = !box.hidden;
        press(toggle, !box.hidden);
        if (!box.hidden) box.querySelector<HTMLElement>("h2")?.focus();
      });
    }
    for (const react of r.querySelectorAll<HTMLButtonElement>("button[data-emoji]")) {
      react.addEventListener("click", () => {
        this.socket?.send({ type: "reaction", emoji: react.dataset.emoji ?? "" });
      });
    }
    button(r, "leave").addEventListener("click", () => this.leave());
    button(r, "mute-all").addEventListener("click", () => this.moderate("mute_all"));
    button(r, "end").addEventListener("click", () => this.moderate("end"));
    const form = r.querySelector<HTMLFormElement>("form[data-part=chat-form]");
    form?.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = form.querySelector<HTMLInputElement>("input[name=text]");
      const text = input?.value.trim() ?? "";
      if (!input || !text) return;
      this.socket?.send({ type: "chat", text: text.slice(0, 2000) });
      input.value = "";
    });
  }

  private moderate(action: string, participant?: string): void {
    const message: { type: string } & Record<string, unknown> = { type: "moderate", action };
    if (participant) message.participant = participant;
    this.socket?.send(message);
  }

  private setMic(on: boolean, tell: boolean): void {
    if (!this.local.audio) return;
    this.micOn = on;
    this.local.audio.enabled = on;
    press(button(this.root, "mic"), on);
    if (tell) this.sendMuted("microphone", !on);
    this.render();
  }

  private setCamera(on: boolean): void {
    if (!this.local.video) return;
    this.cameraOn = on;
    this.local.video.enabled = on;
    press(button(this.root, "camera"), on);
    this.sendMuted("camera", !on);
    this.render();
  }

  private async toggleScreen(): Promise<void> {
    const share = button(this.root, "screen");
    if (!this.publisher) return;
    if (this.screen) {
      for (const track of this.screen.getTracks()) track.stop();
      this.screen = null;
      await this.publisher.stopSource("screen");
      press(share, false);
      await this.publisher.negotiate();
      this.render();
      return;
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      console.warn("meeting: no screen share", error);
      this.announce(this.strings.screenError);
      return;
    }
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    this.screen = stream;
    // The browser's own "stop sharing" bar ends the track: unpublish it then.
    track.addEventListener("ended", () => {
      if (this.screen === stream) void this.toggleScreen();
    });
    await this.publisher.setSource("screen", track);
    press(share, true);
    await this.publisher.negotiate();
    this.render();
  }

  // -- view ----------------------------------------------------------------------------------

  private addPerson(info: ParticipantInfo): void {
    const tracks = new Map<string, TrackInfo>();
    for (const t of info.tracks) tracks.set(t.track, { ...t });
    this.people.set(info.id, { id: info.id, name: info.name, role: info.role, hand: info.hand, tracks });
  }

  private track(person: Person, source: Source): TrackInfo | null {
    for (const t of person.tracks.values()) if (t.source === source) return t;
    return null;
  }

  private displayName(person: Person): string {
    return person.id === this.you ? format(this.strings.you, { name: person.name }) : person.name;
  }

  /** Bring tiles, audio elements and the participant list in line with the state. */
  render(): void {
    const s = this.strings;
    const wanted = new Map<string, { person: Person; screen: boolean; track: MediaStreamTrack | null }>();
    const screens: string[] = [];
    for (const person of this.people.values()) {
      if (person.id === this.you) {
        wanted.set(`${person.id}`, { person, screen: false, track: this.local.video });
        if (this.screen) {
          wanted.set(`${person.id}/screen`, {
            person,
            screen: true,
            track: this.screen.getVideoTracks()[0] ?? null,
          });
          screens.push(`${person.id}/screen`);
        }
        continue;
      }
      const camera = this.track(person, "camera");
      wanted.set(person.id, {
        person,
        screen: false,
        track: camera ? (this.received.get(camera.track) ?? null) : null,
      });
      const screen = this.track(person, "screen");
      if (screen) {
        wanted.set(`${person.id}/screen`, {
          person,
          screen: true,
          track: this.received.get(screen.track) ?? null,
        });
        screens.push(`${person.id}/screen`);
      }
    }
    const tiles = new Map<string, HTMLElement>();
    for (const tile of this.stage.querySelectorAll<HTMLElement>(".tile")) {
      const key = tile.dataset.key ?? "";
      if (wanted.has(key)) tiles.set(key, tile);
      else tile.remove();
    }
    const featured = this.speakerView ? (screens[0] ?? this.activeSpeaker ?? this.you) : null;
    for (const [key, want] of wanted) {
      let tile = tiles.get(key);
      if (!tile) {
        tile = el("figure", { class: "tile", "data-key": key });
        const video = el("video", { playsinline: "", autoplay: "" });
        video.muted = true;
        const caption = el("figcaption");
        caption.append(el("span", { class: "tile-name" }), el("span", { class: "tile-status" }));
        tile.append(video, caption);
        this.stage.append(tile);
      }
      const { person } = want;
      const mic = this.track(person, "microphone");
      const camera = this.track(person, "camera");
      const self = person.id === this.you;
      const micOff = self ? !this.micOn : !mic || mic.muted;
      const camOff = self ? !this.cameraOn : !camera || camera.muted;
      tile.dataset.participant = person.id;
      tile.dataset.screen = String(want.screen);
      tile.dataset.self = String(self);
      tile.dataset.speaking = String(!want.screen && person.id === this.activeSpeaker);
      tile.dataset.featured = String(key === featured);
      const name = want.screen ? format(s.screenOf, { name: person.name }) : this.displayName(person);
      tile.setAttribute("aria-label", name);
      const label = tile.querySelector<HTMLElement>(".tile-name");
      if (label) label.textContent = name;
      const status: string[] = [];
      if (!want.screen) {
        if (micOff) status.push(s.micMuted);
        if (camOff) status.push(s.cameraOff);
        if (person.hand) status.push(`✋ ${s.handRaised}`);
        if (person.id === this.activeSpeaker) status.push(s.speaking);
      }
      const statusNode = tile.querySelector<HTMLElement>(".tile-status");
      if (statusNode) statusNode.textContent = status.join(" · ");
      tile.dataset.micMuted = String(!want.screen && micOff);
      tile.dataset.cameraOff = String(!want.screen && camOff);
      const video = tile.querySelector("video");
      if (video) {
        const current = video.srcObject instanceof MediaStream ? video.srcObject.getVideoTracks()[0] : null;
        if (want.track !== current) {
          video.srcObject = want.track ? new MediaStream([want.track]) : null;
          if (want.track) void video.play().catch(() => undefined);
        }
        video.dataset.track = want.track ? want.track.id : "";
      }
    }
    this.stage.classList.toggle("speaker-view", this.speakerView);
    this.renderAudio();
    this.renderPeople();
  }

  private renderAudio(): void {
    const wanted = new Map<string, MediaStreamTrack>();
    for (const person of this.people.values()) {
      if (person.id === this.you) continue;
      for (const t of person.tracks.values()) {
        const received = this.received.get(t.track);
        if (t.kind === "audio" && received) wanted.set(t.track, received);
      }
    }
    for (const audio of this.audioBox.querySelectorAll<HTMLAudioElement>("audio")) {
      const id = audio.dataset.track ?? "";
      if (!wanted.has(id)) audio.remove();
      else wanted.delete(id);
    }
    for (const [id, track] of wanted) {
      const audio = el("audio", { autoplay: "", "data-track": id });
      audio.srcObject = new MediaStream([track]);
      this.audioBox.append(audio);
      void audio.play().catch(() => undefined);
    }
  }

  private renderPeople(): void {
    const s = this.strings;
    const host = this.role === "host";
    const items: HTMLElement[] = [];
    const sorted = [...this.people.values()].sort((a, b) =>
      a.id === this.you ? -1 : b.id === this.you ? 1 : a.name.localeCompare(b.name),
    );
    for (const person of sorted) {
      const li = el("li", { "data-participant": person.id });
      const details: string[] = [];
      if (person.role === "host") details.push(s.host);
      if (person.role === "guest") details.push(s.guest);
      const mic = this.track(person, "microphone");
      const micOff = person.id === this.you ? !this.micOn : !mic || mic.muted;
      if (micOff) details.push(s.micMuted);
      if (person.hand) details.push(`✋ ${s.handRaised}`);
      li.append(el("span", { class: "person-name" }, this.displayName(person)));
      if (details.length) li.append(el("span", { class: "person-details" }, ` (${details.join(", ")})`));
      if (host && person.id !== this.you) {
        const actions = el("span", { class: "person-actions" });
        const mute = el("button", { type: "button", "data-moderate": "mute" }, format(s.muteOne, { name: person.name }));
        mute.disabled = !mic || mic.muted;
        mute.addEventListener("click", () => this.moderate("mute", person.id));
        const remove = el("button", { type: "button", "data-moderate": "remove" }, format(s.remove, { name: person.name }));
        remove.addEventListener("click", () => this.moderate("remove", person.id));
        actions.append(mute, remove);
        li.append(actions);
      }
      items.push(li);
    }
    // Keep focus on a moderation button across re-renders when it still exists.
    const focused = document.activeElement;
    const focusKey =
      focused instanceof HTMLButtonElement && this.peopleList.contains(focused)
        ? `${focused.closest("li")?.getAttribute("data-participant")}/${focused.dataset.moderate}`
        : null;
    this.peopleList.replaceChildren(...items);
    part(this.root, "people-count").textContent = String(this.people.size);
    if (focusKey) {
      const [pid, action] = focusKey.split("/");
      this.peopleList
        .querySelector<HTMLButtonElement>(`li[data-participant="${pid}"] button[data-moderate="${action}"]`)
        ?.focus();
    }
  }

  private renderLobby(): void {
    const s = this.strings;
    const box = part(this.root, "lobby-box");
    box.hidden = this.role !== "host" || this.waiting.length === 0;
    part(this.root, "lobby-count").textContent = format(s.lobbyCount, { count: this.waiting.length });
    const items = this.waiting.map((w) => {
      const li = el("li", { "data-participant": w.id });
      li.append(el("span", { class: "person-name" }, w.name));
      const admit = el("button", { type: "button" }, format(s.admit, { name: w.name }));
      admit.addEventListener("click", () => this.moderate("admit", w.id));
      const refuse = el("button", { type: "button" }, format(s.refuse, { name: w.name }));
      refuse.addEventListener("click", () => this.moderate("refuse", w.id));
      li.append(admit, refuse);
      return li;
    });
    this.lobbyList.replaceChildren(...items);
  }

  private addChat(line: ChatLine): void {
    const item = el("li");
    const time = new Date(line.at * 1000);
    const when = el(
      "time",
      { datetime: time.toISOString() },
      time.toLocaleTimeString(document.documentElement.lang || "fr", { hour: "2-digit", minute: "2-digit" }),
    );
    item.append(when, " ", el("strong", {}, line.name), " ", el("span", { class: "chat-text" }, line.text));
    this.chatLog.append(item);
    this.chatLog.scrollTop = this.chatLog.scrollHeight;
  }

  private showReaction(participant: string, emoji: string): void {
    const person = this.people.get(participant);
    const name = person ? person.name : participant;
    const text = format(this.strings.reactionFrom, { name, emoji });
    const bubble = el("li", { class: "reaction", "data-participant": participant }, text);
    part(this.root, "reactions").append(bubble);
    window.setTimeout(() => bubble.remove(), REACTION_MS);
  }

  private announce(text: string): void {
    this.announcer.textContent = text;
  }

  private async sampleQuality(): Promise<void> {
    const pcs = [this.publisher?.pc, this.subscriber?.pc].filter(
      (pc): pc is RTCPeerConnection => pc !== undefined,
    );
    const sample = await this.meter.sample(pcs);
    const s = this.strings;
    const label = {
      good: s.qualityGood,
      fair: s.qualityFair,
      poor: s.qualityPoor,
      unknown: s.qualityUnknown,
    }[sample.quality];
    const node = part(this.root, "quality");
    node.dataset.quality = sample.quality;
    const detail =
      sample.rttMs === null
        ? ""
        : ` (${format(s.qualityDetail, {
            rtt: Math.round(sample.rttMs),
            loss: sample.lossPercent.toFixed(1),
          })})`;
    node.textContent = label + detail;
  }
}

// ---- the page ----------------------------------------------------------------

const NONE = "";

async function listDevices(
  select: HTMLSelectElement,
  kind: MediaDeviceKind,
  label: (n: number) => string,
  none: string,
  chosen: string | undefined,
): Promise<void> {
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === kind);
  const options = devices.map((device, index) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || label(index + 1);
    return option;
  });
  const off = document.createElement("option");
  off.value = NONE;
  off.textContent = none;
  select.replaceChildren(...options, off);
  const keep = devices.find((d) => d.deviceId === chosen);
  select.value = keep ? keep.deviceId : (devices[0]?.deviceId ?? NONE);
}

async function openMedia(camera: string, microphone: string): Promise<MediaStream> {
  if (camera === NONE && microphone === NONE) return new MediaStream();
  return navigator.mediaDevices.getUserMedia({
    audio: microphone === NONE ? false : { deviceId: { exact: microphone } },
    video: camera === NONE ? false : { deviceId: { exact: camera }, width: 640, height: 480 },
  });
}

function preJoin(root: HTMLElement, room: string, strings: Strings): void {
  const prejoin = root.querySelector<HTMLElement>('[data-part="prejoin"]');
  const preview = root.querySelector<HTMLVideoElement>('[data-part="preview"]');
  const cameraSelect = root.querySelector<HTMLSelectElement>('[data-part="camera-choice"]');
  const micSelect = root.querySelector<HTMLSelectElement>('[data-part="microphone-choice"]');
  const joinButton = root.querySelector<HTMLButtonElement>('button[data-action="join"]');
  const error = root.querySelector<HTMLElement>('[data-part="prejoin-error"]');
  if (!prejoin || !preview || !cameraSelect || !micSelect || !joinButton || !error) return;
  let stream = new MediaStream();

  const refresh = async (first: boolean): Promise<void> => {
    for (const track of stream.getTracks()) track.stop();
    error.hidden = true;
    try {
      // Device labels (and ids that last) are only given once a permission was granted.
      if (first) {
        stream = await navigator.mediaDevices
          .getUserMedia({ audio: true, video: { width: 640, height: 480 } })
          .catch(() => navigator.mediaDevices.getUserMedia({ audio: true }))
          .catch(() => new MediaStream());
      } else {
        stream = await openMedia(cameraSelect.value, micSelect.value);
      }
    } catch (problem) {
      console.warn("meeting: devices", problem);
      stream = new MediaStream();
      error.textContent = strings.mediaError;
      error.hidden = false;
    }
    if (first) {
      const chosenCamera = stream.getVideoTracks()[0]?.getSettings().deviceId;
      const chosenMic = stream.getAudioTracks()[0]?.getSettings().deviceId;
      await listDevices(cameraSelect, "videoinput", (n) => format(strings.cameraN, { n }), strings.noCamera, chosenCamera);
      await listDevices(micSelect, "audioinput", (n) => format(strings.microphoneN, { n }), strings.noMicrophone, chosenMic);
      if (!stream.getTracks().length) {
        error.textContent = strings.mediaError;
        error.hidden = false;
      }
    }
    preview.srcObject = stream.getVideoTracks().length ? stream : null;
    root.dataset.preview = String(stream.getVideoTracks().length > 0);
  };
  cameraSelect.addEventListener("change", () => void refresh(false));
  micSelect.addEventListener("change", () => void refresh(false));
  joinButton.addEventListener("click", () => {
    preview.srcObject = null;
    prejoin.hidden = true;
    const local: LocalMedia = {
      stream,
      audio: stream.getAudioTracks()[0] ?? null,
      video: stream.getVideoTracks()[0] ?? null,
    };
    const client = new MeetingClient(root, room, visioUrl(window.location, room), local, strings);
    // Tests and the browser console reach the meeting (its peer connections) here.
    (window as unknown as { atelierMeeting?: MeetingClient }).atelierMeeting = client;
    client.start();
  });
  void refresh(true).then(() => {
    joinButton.disabled = false;
    root.dataset.ready = "true";
  });
}

function main(): void {
  const root = document.querySelector<HTMLElement>("[data-meeting]");
  const data = document.getElementById("meeting-config");
  if (!root || !data) return;
  const config = JSON.parse(data.textContent || "{}") as Record<string, unknown>;
  const room = typeof config.room === "string" ? config.room : "";
  const strings = readStrings(config.strings);
  preJoin(root, room, strings);
}

main();
