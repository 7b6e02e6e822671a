// The stage's layout, as pure functions: how many columns of tiles fill it (the "tile view"
// of Jitsi and La Suite's Meet), which tile is shown large (a screen share, the speaker), and
// chat times in the person's time zone.

export interface TileGrid {
  columns: number;
  rows: number;
  /** The size of each tile in CSS pixels (every tile the same, the same shape). */
  width: number;
  height: number;
}

/** The tile shape for a stage: wide on a laptop, square on a phone held upright. */
export function tileAspect(width: number, height: number): number {
  return width >= height ? 16 / 9 : 1;
}

/**
 * The columns and rows that give `count` tiles of one shape (`aspect` = width / height) about
 * the largest size in a stage of `width` × `height` pixels, `gap` pixels apart. On a wide stage,
 * a grid with more columns wins when its tiles are nearly as large (within 10 %): two people
 * sit side by side rather than one above the other. Before the stage has a size, the
 * squarest grid.
 */
export function tileGrid(count: number, width: number, height: number, gap = 8, aspect = tileAspect(width, height)): TileGrid {
  const n = Math.max(1, Math.floor(count));
  if (width <= 0 || height <= 0) {
    const columns = Math.ceil(Math.sqrt(n));
    return { columns, rows: Math.ceil(n / columns), width: 0, height: 0 };
  }
  const grids: TileGrid[] = [];
  for (let columns = 1; columns <= n; columns += 1) {
    const rows = Math.ceil(n / columns);
    const cellWidth = (width - gap * (columns - 1)) / columns;
    const cellHeight = (height - gap * (rows - 1)) / rows;
    if (cellWidth <= 0 || cellHeight <= 0) break;
    const tileWidth = Math.min(cellWidth, cellHeight * aspect);
    grids.push({ columns, rows, width: Math.floor(tileWidth), height: Math.floor(tileWidth / aspect) });
  }
  if (!grids.length) return { columns: 1, rows: n, width: 0, height: 0 };
  const largest = Math.max(...grids.map((g) => g.width));
  const near = largest * (width >= height ? 0.9 : 1) - 0.5;
  const fitting = grids.filter((g) => g.width >= near);
  // Wide: the most columns among the near-largest; upright: the fewest.
  return width >= height ? fitting[fitting.length - 1] : fitting[0];
}

export interface StageTile {
  key: string;
  /** A shared screen (not a camera). */
  screen: boolean;
  /** This person's own tile. */
  self: boolean;
}

export interface SpotlightChoice {
  /** The tile this person asked to see large (null: none). */
  chosen: string | null;
  /** Screen tiles this person sent back into the grid. */
  dismissed: ReadonlySet<string>;
  /** "Vue intervenant": the speaker (or the pinned person) large. */
  speakerView: boolean;
  pinned: string | null;
  activeSpeaker: string | null;
  you: string;
}

/**
 * The tile shown large, or null for the grid: what this person chose; else someone else's
 * shared screen (not one they sent back to the grid; one's own screen stays small, as one
 * sees it on one's own display); else, in speaker view, the pinned person or the speaker.
 */
export function spotlight(tiles: readonly StageTile[], choice: SpotlightChoice): string | null {
  const keys = new Set(tiles.map((t) => t.key));
  if (choice.chosen && keys.has(choice.chosen)) return choice.chosen;
  const screen = tiles.find((t) => t.screen && !t.self && !choice.dismissed.has(t.key));
  if (screen) return screen.key;
  if (!choice.speakerView) return null;
  for (const key of [choice.pinned, choice.activeSpeaker, choice.you]) {
    if (key && keys.has(key)) return key;
  }
  return null;
}

export const DEFAULT_TIME_ZONE = "Europe/Paris";

/** A zone Intl knows, else Paris (an unknown or missing setting never breaks the chat). */
export function knownTimeZone(zone: unknown): string {
  if (typeof zone !== "string" || !zone) return DEFAULT_TIME_ZONE;
  try {
    new Intl.DateTimeFormat("fr", { timeZone: zone });
    return zone;
  } catch {
    return DEFAULT_TIME_ZONE;
  }
}

/** "19:20": the wall-clock time of `epochMs` in `zone`, as people of `locale` write it. */
export function clockTime(epochMs: number, locale: string, zone: string): string {
  return new Intl.DateTimeFormat(locale || "fr", {
    hour: "2-digit",
    minute: "2-digit",
    timeZone: knownTimeZone(zone),
  }).format(new Date(epochMs));
}
