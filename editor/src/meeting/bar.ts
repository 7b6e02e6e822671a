// The meeting's bar and side panels: one panel at a time (participants, discussion, notes)
// beside the stage (over it on a phone), the reactions menu, arrow keys along the bar.

export type PanelName = "people" | "chat" | "notes";

export class MeetingBar {
  private readonly side: HTMLElement;
  private readonly bar: HTMLElement;
  private current: PanelName | null;

  constructor(
    private readonly root: HTMLElement,
    private readonly onChange: () => void,
  ) {
    const side = root.querySelector<HTMLElement>('[data-part="side"]');
    const bar = root.querySelector<HTMLElement>('[data-part="bar"]');
    if (!side || !bar) throw new Error("the meeting page lacks its side panels or its bar");
    this.side = side;
    this.bar = bar;
    this.current = null;
  }

  bind(): void {
    for (const toggle of this.toggles()) {
      const name = toggle.dataset.panel as PanelName;
      toggle.addEventListener("click", () => {
        if (this.current === name) this.close();
        else this.open(name);
      });
    }
    for (const close of this.side.querySelectorAll<HTMLButtonElement>("[data-close-panel]")) {
      close.addEventListener("click", () => this.close());
    }
    this.side.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.current) {
        event.stopPropagation();
        this.close();
      }
    });
    this.bindReactions();
    this.bar.addEventListener("keydown", (event) => this.arrows(event));
  }

  /** The panel shown, if any. */
  get panel(): PanelName | null {
    return this.current;
  }

  open(name: PanelName): void {
    const box = this.box(name);
    if (!box) return;
    for (const panel of this.side.querySelectorAll<HTMLElement>("[data-panel-box]")) {
      panel.hidden = panel !== box;
    }
    this.side.hidden = false;
    this.current = name;
    this.root.dataset.panel = name;
    for (const toggle of this.toggles()) {
      toggle.setAttribute("aria-pressed", String(toggle.dataset.panel === name));
    }
    box.querySelector<HTMLElement>("h2")?.focus();
    this.onChange();
  }

  /** Close the panel; focus goes back to its button in the bar when it was inside. */
  close(): void {
    const name = this.current;
    if (!name) return;
    const hadFocus = this.side.contains(document.activeElement);
    this.side.hidden = true;
    this.current = null;
    delete this.root.dataset.panel;
    for (const toggle of this.toggles()) toggle.setAttribute("aria-pressed", "false");
    if (hadFocus) this.toggles().find((t) => t.dataset.panel === name)?.focus();
    this.onChange();
  }

  private box(name: PanelName): HTMLElement | null {
    return this.side.querySelector<HTMLElement>(`[data-panel-box="${name}"]`);
  }

  private toggles(): HTMLButtonElement[] {
    return [...this.bar.querySelectorAll<HTMLButtonElement>("button[data-panel]")];
  }

  private bindReactions(): void {
    const toggle = this.bar.querySelector<HTMLButtonElement>('button[data-action="react"]');
    const menu = this.bar.querySelector<HTMLElement>(".meeting-react__menu");
    if (!toggle || !menu) return;
    const show = (open: boolean, focus: boolean): void => {
      menu.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open && focus) menu.querySelector<HTMLButtonElement>("button")?.focus();
      if (!open && focus) toggle.focus();
    };
    toggle.addEventListener("click", () => show(menu.hidden, false));
    menu.addEventListener("click", (event) => {
      if ((event.target as HTMLElement).closest("button")) show(false, false);
    });
    menu.addEventListener("keydown", (event) => {
      if (event.key === "Escape") show(false, true);
    });
    document.addEventListener("click", (event) => {
      const target = event.target as Node;
      if (!menu.hidden && !menu.contains(target) && !toggle.contains(target)) show(false, false);
    });
  }

  /** Left and right arrows (Home, End) move along the bar's buttons; Tab still visits each. */
  private arrows(event: KeyboardEvent): void {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    const target = event.target as HTMLElement;
    if (!(target instanceof HTMLButtonElement) || target.closest(".meeting-react__menu")) return;
    const buttons = [...this.bar.querySelectorAll<HTMLButtonElement>("button.meeting-control")].filter(
      (b) => !b.hidden && !b.disabled,
    );
    const at = buttons.indexOf(target);
    if (at < 0) return;
    const last = buttons.length - 1;
    const next = {
      ArrowLeft: at === 0 ? last : at - 1,
      ArrowRight: at === last ? 0 : at + 1,
      Home: 0,
      End: last,
    }[event.key as "ArrowLeft" | "ArrowRight" | "Home" | "End"];
    event.preventDefault();
    buttons[next]?.focus();
  }
}
