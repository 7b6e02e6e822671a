// How many of the toolbar's buttons fit on its one row: the rest go behind "Plus".

export interface FitItem {
  /** The button's width, in CSS pixels. */
  width: number;
  /** The space before it (wider between groups); ignored for the first. */
  gapBefore: number;
}

/**
 * The number of leading items that stay on the row of width `available`: all of them when they
 * fit, else as many as fit together with the "Plus" button (`moreWidth`, after `moreGap`).
 */
export function fitCount(items: FitItem[], available: number, moreWidth: number, moreGap: number): number {
  const slack = 0.5; // sub-pixel widths add up
  let end = 0;
  const ends = items.map((item, index) => (end += (index ? item.gapBefore : 0) + item.width));
  if (end <= available + slack) return items.length;
  let count = 0;
  while (count < items.length && ends[count] + moreGap + moreWidth <= available + slack) count += 1;
  return count;
}
