import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type BenchValues<T extends Options> = ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values'];

/**
 * A bench's command line: `--help` (or `-h`) prints `usage` and exits 0; an unknown or malformed
 * option prints the reason and `usage` and exits 2, instead of a stack trace. `args` defaults to
 * the process's; positionals are refused unless `positionals` allows them.
 */
export function benchCommandLine<T extends Options>(
  usage: string,
  options: T,
  o: { args?: string[]; positionals?: boolean } = {},
): { values: BenchValues<T>; positionals: string[] } {
  const args = o.args ?? process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage.trim() + '\n');
    process.exit(0);
  }
  try {
    const r = parseArgs({ args, options, strict: true, allowPositionals: o.positionals ?? false });
    return { values: r.values as BenchValues<T>, positionals: r.positionals };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage.trim()}\n`);
    process.exit(2);
  }
}

/** The options of a bench's command line (see benchCommandLine). */
export function benchArgs<T extends Options>(usage: string, options: T, args?: string[]): BenchValues<T> {
  return benchCommandLine(usage, options, args === undefined ? {} : { args }).values;
}
