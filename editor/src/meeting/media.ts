// The two peer connections of a participant (docs/visio.md): publish (we offer, the SFU
// answers) and subscribe (the SFU offers and renegotiates, we answer). The SFU (aiortc) takes
// the browser's candidates from the SDP, so each description is sent once gathering is over.
import type { Source } from "./protocol";

type Send = (message: { type: string } & Record<string, unknown>) => void;

const GATHERING_TIMEOUT_MS = 3000;

/** Resolves when the connection has gathered its candidates (or after a short wait). */
export function gathered(pc: RTCPeerConnection): Promise<void> {
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
export class Publisher {
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
export class Subscriber {
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
