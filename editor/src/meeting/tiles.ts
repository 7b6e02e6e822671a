// The stage's tiles: one per camera and per shared screen, laid out as a grid that fills the
// stage (stage.ts computes its columns) or as a spotlight (one tile large, the others a strip).
import { spotlight, tileGrid } from "./stage";
import { format, type Strings } from "./strings";

/** What one tile shows, as the meeting client knows it. */
export interface TileState {
  key: string;
  participant: string;
  /** The person's name (the pin button says whom it pins). */
  person: string;
  /** The tile's label: "Alice (vous)", "Écran de Alice". */
  label: string;
  screen: boolean;
  self: boolean;
  track: MediaStreamTrack | null;
  micOff: boolean;
  cameraOff: boolean;
  speaking: boolean;
  status: string[];
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

export class TileStage {
  /** The person pinned by this viewer ("" for none): large in speaker view, always forwarded. */
  userPin: string;
  speakerView: boolean;
  /** The tile this person put large, and the screens they sent back to the grid. */
  private chosen: string | null;
  private readonly dismissed: Set<string>;

  constructor(
    private readonly stage: HTMLElement,
    private readonly strings: Strings,
    private readonly changed: () => void,
  ) {
    this.userPin = "";
    this.speakerView = false;
    this.chosen = null;
    this.dismissed = new Set();
  }

  render(states: TileState[], activeSpeaker: string | null, you: string): void {
    const s = this.strings;
    const wanted = new Map(states.map((t) => [t.key, t]));
    const tiles = new Map<string, HTMLElement>();
    for (const tile of this.stage.querySelectorAll<HTMLElement>(".tile")) {
      const key = tile.dataset.key ?? "";
      if (wanted.has(key)) tiles.set(key, tile);
      else tile.remove();
    }
    for (const key of this.dismissed) if (!wanted.has(key)) this.dismissed.delete(key);
    const featured = spotlight(states, {
      chosen: this.chosen,
      dismissed: this.dismissed,
      speakerView: this.speakerView,
      pinned: this.userPin || null,
      activeSpeaker,
      you,
    });
    for (const want of states) {
      const key = want.key;
      const tile = tiles.get(key) ?? this.create(want);
      tile.dataset.participant = want.participant;
      tile.dataset.screen = String(want.screen);
      tile.dataset.self = String(want.self);
      tile.dataset.speaking = String(want.speaking);
      tile.dataset.featured = String(key === featured);
      tile.setAttribute("aria-label", want.label);
      const label = tile.querySelector<HTMLElement>(".tile-name");
      if (label) label.textContent = want.label;
      const pinButton = tile.querySelector<HTMLButtonElement>("button[data-pin]");
      if (pinButton) {
        pinButton.setAttribute("aria-label", format(s.pinOne, { name: want.person }));
        pinButton.setAttribute("aria-pressed", String(this.userPin === want.participant));
      }
      const large = tile.querySelector<HTMLButtonElement>("button[data-spotlight]");
      if (large) {
        large.textContent = key === featured ? s.backToGrid : s.showLarge;
        large.setAttribute("aria-label", `${large.textContent} : ${want.label}`);
      }
      const statusNode = tile.querySelector<HTMLElement>(".tile-status");
      if (statusNode) statusNode.textContent = want.status.join(" · ");
      tile.dataset.micMuted = String(want.micOff);
      tile.dataset.cameraOff = String(want.cameraOff);
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
    this.stage.dataset.layout = featured ? "spotlight" : "grid";
    this.layout();
  }

  /** Size the tiles so that they fill the stage: the grid's columns follow the count. In the
   * spotlight the large tile takes the stage above a strip of the others (visio.css). */
  layout(): void {
    if (this.stage.dataset.layout === "spotlight") {
      this.stage.dataset.columns = "1";
      return;
    }
    const count = this.stage.querySelectorAll(".tile").length;
    const style = getComputedStyle(this.stage);
    const gap = parseFloat(style.columnGap) || 8;
    const width = this.stage.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const height = this.stage.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const grid = tileGrid(count, width, height, gap);
    this.stage.dataset.columns = String(grid.columns);
    this.stage.style.setProperty("--tile-width", `${grid.width}px`);
    this.stage.style.setProperty("--tile-height", `${grid.height}px`);
  }

  private create(want: TileState): HTMLElement {
    const s = this.strings;
    const key = want.key;
    const tile = el("figure", { class: "tile", "data-key": key });
    const video = el("video", { playsinline: "", autoplay: "" });
    video.muted = true;
    const caption = el("figcaption");
    caption.append(el("span", { class: "tile-name" }), el("span", { class: "tile-status" }));
    if (want.screen) {
      const large = el("button", { type: "button", class: "tile-pin", "data-spotlight": "" }, s.showLarge);
      large.addEventListener("click", () => this.toggleSpotlight(key));
      caption.append(large);
    } else if (!want.self) {
      const id = want.participant;
      const pin = el("button", { type: "button", class: "tile-pin", "data-pin": "", "aria-pressed": "false" }, s.pin);
      pin.addEventListener("click", () => {
        this.userPin = this.userPin === id ? "" : id;
        this.changed();
      });
      caption.append(pin);
    }
    tile.append(video, caption);
    this.stage.append(tile);
    return tile;
  }

  /** The screen tile `key` large, or back in the grid. */
  private toggleSpotlight(key: string): void {
    const tile = this.stage.querySelector<HTMLElement>(`.tile[data-key="${CSS.escape(key)}"]`);
    if (tile?.dataset.featured === "true") {
      if (this.chosen === key) this.chosen = null;
      this.dismissed.add(key);
    } else {
      this.chosen = key;
      this.dismissed.delete(key);
    }
    this.changed();
  }
}
