// The lobby as hosts see it, wherever they are in the meeting: the waiting list in the
// participants panel, a count on the Participants button, a notice ("toast") with "Admettre"
// for each guest who knocks, and a short sound unless this person turned it off.
import { chime, knockSoundOn, localStore, newArrivals, setKnockSound, type Waiting } from "./knock";
import { format, type Strings } from "./strings";

type Moderate = (action: "admit" | "refuse", participant: string) => void;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

/** A button whose visible label is `label`, heard with `who` after it. */
function labelled(label: string, who: string, className: string): HTMLButtonElement {
  const node = el("button", { type: "button", class: className }, label);
  node.append(el("span", { class: "fr-sr-only" }, ` ${who}`));
  return node;
}

export class LobbyView {
  private known: Set<string>;
  private waiting: Waiting[];

  constructor(
    private readonly root: HTMLElement,
    private readonly strings: Strings,
    private readonly moderate: Moderate,
    private readonly showPeople: () => void,
  ) {
    this.known = new Set();
    this.waiting = [];
  }

  bind(): void {
    const sound = this.part<HTMLInputElement>("knock-sound");
    sound.checked = knockSoundOn(localStore());
    sound.addEventListener("change", () => setKnockSound(localStore(), sound.checked));
  }

  /** A new list of who waits (hosts only get one); `host`: whether this person is one. */
  update(waiting: Waiting[], host: boolean): void {
    const arrivals = host ? newArrivals(this.known, waiting) : [];
    this.waiting = host ? waiting : [];
    this.known = new Set(this.waiting.map((w) => w.id));
    this.renderList(host);
    this.renderBadge();
    this.renderToasts(arrivals);
    if (arrivals.length && knockSoundOn(localStore())) chime();
  }

  /** A new arrival in the meeting (or a reconnection): what was known is forgotten. */
  reset(): void {
    this.known = new Set();
    this.update([], false);
  }

  private part<T extends HTMLElement = HTMLElement>(name: string): T {
    const node = this.root.querySelector<T>(`[data-part="${name}"]`);
    if (!node) throw new Error(`the meeting page lacks [data-part=${name}]`);
    return node;
  }

  private renderList(host: boolean): void {
    const s = this.strings;
    this.part("lobby-box").hidden = !host || this.waiting.length === 0;
    this.part("lobby-count").textContent = format(s.lobbyCount, { count: this.waiting.length });
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
    this.part("lobby-list").replaceChildren(...items);
  }

  private renderBadge(): void {
    const badge = this.part("lobby-badge");
    const count = this.waiting.length;
    badge.hidden = count === 0;
    const number = el("span", { "aria-hidden": "true" }, String(count));
    const words = el("span", { class: "fr-sr-only" }, `— ${format(this.strings.lobbyBadge, { count })}`);
    badge.replaceChildren(number, words);
  }

  private renderToasts(arrivals: Waiting[]): void {
    const box = this.part("toasts");
    const focusInside = box.contains(document.activeElement);
    for (const toast of box.querySelectorAll<HTMLElement>(".meeting-toast[data-knock]")) {
      if (!this.known.has(toast.dataset.knock ?? "")) toast.remove();
    }
    const s = this.strings;
    for (const w of arrivals) {
      const toast = el("div", { class: "meeting-toast", "data-knock": w.id });
      toast.append(el("p", { class: "meeting-toast__text" }, format(s.knockNotice, { name: w.name })));
      const actions = el("div", { class: "meeting-toast__actions" });
      const admit = labelled(s.admitShort, w.name, "fr-btn fr-btn--sm");
      admit.addEventListener("click", () => this.moderate("admit", w.id));
      const look = el("button", { type: "button", class: "fr-btn fr-btn--sm fr-btn--secondary" }, s.seeLobby);
      look.addEventListener("click", () => {
        toast.remove();
        this.showPeople();
      });
      const hide = labelled(s.dismiss, w.name, "fr-btn fr-btn--sm fr-btn--tertiary-no-outline");
      hide.addEventListener("click", () => {
        toast.remove();
        this.root.querySelector<HTMLButtonElement>('button[data-panel="people"]')?.focus();
      });
      actions.append(admit, look, hide);
      toast.append(actions);
      box.append(toast);
    }
    // Focus on a notice that went (its guest came in): back to the bar's Participants button.
    if (focusInside && !box.contains(document.activeElement)) {
      this.root.querySelector<HTMLButtonElement>('button[data-panel="people"]')?.focus();
    }
  }
}
