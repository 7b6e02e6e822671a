// The meeting itself: signaling, the two peer connections, and the room's view (tiles,
// controls, participants, chat, reactions, host controls, lobby, quality).
import { MeetingBar } from "./bar";
import { closeOutcome } from "./closing";
import { LobbyView } from "./lobby";
import { Publisher, Subscriber } from "./media";
import {
  SignalingSocket,
  type ChatLine,
  type ParticipantInfo,
  type Role,
  type ServerMessage,
  type Source,
  type TrackInfo,
  type Welcome,
} from "./protocol";
import { QualityMeter } from "./quality";
import { clockTime } from "./stage";
import { format, type Strings } from "./strings";
import { TileStage, type TileState } from "./tiles";

const QUALITY_INTERVAL_MS = 2000;
const REACTION_MS = 4000;

interface Person {
  id: string;
  name: string;
  role: Role;
  hand: boolean;
  tracks: Map<string, TrackInfo>;
}

export interface MeetingOptions {
  /** The person's time zone (IANA name) for chat times. */
  timeZone: string;
}

export interface LocalMedia {
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

export class MeetingClient {
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
  private readonly tiles: TileStage;
  private qualityTimer: number;
  private readonly meter: QualityMeter;
  private finished: boolean;
  private attempts: number;
  private pinned: string;

  private readonly stage: HTMLElement;
  private readonly audioBox: HTMLElement;
  private readonly peopleList: HTMLElement;
  private readonly lobby: LobbyView;
  private readonly bar: MeetingBar;
  private readonly chatLog: HTMLElement;
  private readonly announcer: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly room: string,
    private readonly url: string,
    private readonly local: LocalMedia,
    private readonly strings: Strings,
    private readonly options: MeetingOptions = { timeZone: "Europe/Paris" },
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
    this.qualityTimer = 0;
    this.meter = new QualityMeter();
    this.finished = false;
    this.attempts = 0;
    this.pinned = "";
    this.micOn = local.audio !== null && local.audio.enabled;
    this.cameraOn = local.video !== null && local.video.enabled;
    this.stage = part(root, "stage");
    this.audioBox = part(root, "audio");
    this.peopleList = part(root, "people");
    this.tiles = new TileStage(this.stage, strings, () => this.render());
    this.bar = new MeetingBar(root, () => this.tiles.layout());
    this.lobby = new LobbyView(
      root,
      strings,
      (action, participant) => this.moderate(action, participant),
      () => this.bar.open("people"),
    );
    this.chatLog = part(root, "chat-log");
    this.announcer = part(root, "announcer");
  }

  // -- life cycle ----------------------------------------------------------------------------

  start(): void {
    this.bindControls();
    this.bar.bind();
    this.lobby.bind();
    // The tiles grow and shrink with the stage (window, side panel, phone turned).
    new ResizeObserver(() => this.tiles.layout()).observe(this.stage);
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
    this.you = ""; // nothing is sent for the old participant id (a guest may be in the lobby)
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
    const outcome = closeOutcome(code, this.attempts, this.root.dataset.screen === "lobby");
    const s = this.strings;
    if (outcome.retry) {
      // The media connection failed, the server restarted or the network dropped: join again
      // (a guest goes back through the lobby), waiting a little longer each time.
      this.attempts += 1;
      this.resetPeers();
      this.root.dataset.reconnecting = "true";
      // The waiting screen says why, until the server answers again.
      part(this.root, "connecting-status").textContent = s[outcome.status];
      this.show("connecting");
      window.setTimeout(() => {
        if (!this.finished) this.connect();
      }, outcome.delayMs);
      return;
    }
    if (outcome.message === "endedLost") console.warn("meeting: closed", code, reason);
    this.finish(s[outcome.message]);
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
        this.lobby.update((m.waiting as { id: string; name: string }[]) ?? [], this.role === "host");
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
    this.pinned = "";
    this.hand = false; // a new arrival (or a reconnection) starts with the hand down
    press(button(this.root, "hand"), false);
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
    this.lobby.reset();
    const room = part(this.root, "room");
    this.show("room");
    this.render();
    // After "Rejoindre" (or the lobby), the keyboard starts on the meeting's controls.
    const focused = document.activeElement;
    if (!focused || focused === document.body || !room.contains(focused)) this.focusControls();
    await this.publish();
    this.qualityTimer = window.setInterval(() => void this.sampleQuality(), QUALITY_INTERVAL_MS);
  }

  /** Focus the first control that works: the microphone, else the camera, else the hand. */
  private focusControls(): void {
    for (const action of ["mic", "camera", "hand"]) {
      const control = button(this.root, action);
      if (!control.disabled && !control.hidden) {
        control.focus();
        return;
      }
    }
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
      this.tiles.speakerView = !this.tiles.speakerView;
      press(view, this.tiles.speakerView);
      this.render();
    });
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
    const states: TileState[] = [];
    const tile = (person: Person, screen: boolean, track: MediaStreamTrack | null): void => {
      const self = person.id === this.you;
      const mic = this.track(person, "microphone");
      const camera = this.track(person, "camera");
      const micOff = !screen && (self ? !this.micOn : !mic || mic.muted);
      const cameraOff = !screen && (self ? !this.cameraOn : !camera || camera.muted);
      const speaking = !screen && person.id === this.activeSpeaker;
      const status: string[] = [];
      if (micOff) status.push(s.micMuted);
      if (cameraOff) status.push(s.cameraOff);
      if (!screen && person.hand) status.push(`✋ ${s.handRaised}`);
      if (speaking) status.push(s.speaking);
      states.push({
        key: screen ? `${person.id}/screen` : person.id,
        participant: person.id,
        person: person.name,
        label: screen ? format(s.screenOf, { name: person.name }) : this.displayName(person),
        screen,
        self,
        track,
        micOff,
        cameraOff,
        speaking,
        status,
      });
    };
    for (const person of this.people.values()) {
      if (person.id === this.you) {
        tile(person, false, this.local.video);
        if (this.screen) tile(person, true, this.screen.getVideoTracks()[0] ?? null);
        continue;
      }
      const camera = this.track(person, "camera");
      tile(person, false, camera ? (this.received.get(camera.track) ?? null) : null);
      const screen = this.track(person, "screen");
      if (screen) tile(person, true, this.received.get(screen.track) ?? null);
    }
    if (this.tiles.userPin && !this.people.has(this.tiles.userPin)) this.tiles.userPin = "";
    this.tiles.render(states, this.activeSpeaker, this.you);
    // A pinned person's camera is forwarded even when they are not among the last speakers
    // the SFU sends video for (aiortc has no simulcast: docs/visio.md).
    const pin = this.tiles.userPin;
    if (pin !== this.pinned && this.socket && this.you) {
      this.pinned = pin;
      this.socket.send({ type: "pin", participants: pin ? [pin] : [] });
    }
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

  private addChat(line: ChatLine): void {
    const item = el("li");
    // `at`: when the server received it, in milliseconds since 1970 (a wall clock), shown in
    // the person's time zone.
    const when = el(
      "time",
      { datetime: new Date(line.at).toISOString() },
      clockTime(line.at, document.documentElement.lang || "fr", this.options.timeZone),
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
