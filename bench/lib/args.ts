/** The bench's command-line arguments (after `tsx bench/x.bench.ts`). */
export const argv = process.argv.slice(2);

/** The value after `--name`, or `def` when the flag is absent or last. */
export function arg(name: string): string | undefined;
export function arg(name: string, def: string): string;
export function arg(name: string, def?: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : def;
}
