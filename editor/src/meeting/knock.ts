// Guests knocking in the lobby, as a host notices them: who is new in the waiting list, and a
// short chime drawn with WebAudio (no sound file), which each person may turn off (a preference
// of this browser, kept in localStorage).

export interface Waiting {
  id: string;
  name: string;
}

const SOUND_KEY = "atelier.meeting.knockSound";

type Store = Pick<Storage, "getItem" | "setItem">;

/** Those of `waiting` not in the list before (the ids of `before`): they just knocked. */
export function newArrivals(before: ReadonlySet<string>, waiting: readonly Waiting[]): Waiting[] {
  return waiting.filter((w) => !before.has(w.id));
}

/** Whether the knock sound plays (on unless turned off; on where storage is refused). */
export function knockSoundOn(store: Store | null): boolean {
  try {
    return store?.getItem(SOUND_KEY) !== "off";
  } catch {
    return true;
  }
}

export function setKnockSound(store: Store | null, on: boolean): void {
  try {
    store?.setItem(SOUND_KEY, on ? "on" : "off");
  } catch {
    // Private browsing may refuse storage: the choice then lasts as long as the page.
  }
}

/** This browser's storage, or null where the page may not use it. */
export function localStore(): Store | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

let context: AudioContext | null = null;

/** Two short soft notes (a door chime), about 0.4 s. Silent where WebAudio is missing. */
export function chime(): void {
  const Audio = window.AudioContext;
  if (!Audio) return;
  try {
    context ??= new Audio();
    const ctx = context;
    void ctx.resume().catch(() => undefined);
    const start = ctx.currentTime + 0.01;
    for (const [offset, frequency] of [
      [0, 880],
      [0.18, 660],
    ] as const) {
      const tone = ctx.createOscillator();
      const gain = ctx.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.22);
      tone.connect(gain).connect(ctx.destination);
      tone.start(start + offset);
      tone.stop(start + offset + 0.25);
    }
  } catch (problem) {
    console.warn("meeting: no knock sound", problem);
  }
}
