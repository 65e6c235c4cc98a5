import { PNG } from 'pngjs';

/** What a decoded PNG looks like: its size, how many distinct colours it has and how many pixels are not white. */
export interface PngStats {
  readonly width: number;
  readonly height: number;
  readonly colours: number;
  readonly inked: number;
  /** Pixels that are not white, per row band of `band` rows (for "is there text up there" checks). */
  readonly inkedRows: (from: number, to: number) => number;
  /** For each pixel column, how many pixels have exactly this RGB colour. */
  readonly columnCounts: (rgb: readonly [number, number, number]) => number[];
}

/**
 * Decodes a PNG with pngjs (an independent decoder: the renderer never sees it) and counts its colours and non-white
 * pixels. Throws on anything that is not a valid PNG.
 */
export function pngStats(png: Buffer | Uint8Array): PngStats {
  const image = PNG.sync.read(Buffer.from(png));
  const colours = new Set<number>();
  const inkedPerRow = new Array<number>(image.height).fill(0);
  let inked = 0;
  for (let y = 0; y < image.height; y += 1) {
    for (let x = 0; x < image.width; x += 1) {
      const i = (y * image.width + x) * 4;
      const [r, g, b, a] = [image.data[i]!, image.data[i + 1]!, image.data[i + 2]!, image.data[i + 3]!];
      colours.add(((r << 24) | (g << 16) | (b << 8) | a) >>> 0);
      if (a > 0 && (r < 240 || g < 240 || b < 240)) {
        inked += 1;
        inkedPerRow[y]! += 1;
      }
    }
  }
  return {
    width: image.width,
    height: image.height,
    colours: colours.size,
    inked,
    inkedRows: (from, to) => inkedPerRow.slice(from, to).reduce((sum, n) => sum + n, 0),
    columnCounts: ([r, g, b]) =>
      Array.from({ length: image.width }, (_, x) => {
        let count = 0;
        for (let y = 0; y < image.height; y += 1) {
          const i = (y * image.width + x) * 4;
          if (image.data[i] === r && image.data[i + 1] === g && image.data[i + 2] === b) count += 1;
        }
        return count;
      }),
  };
}
