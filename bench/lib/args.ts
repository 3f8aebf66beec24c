import { parseArgs, type ParseArgsConfig } from 'node:util';

type BenchValues<T extends NonNullable<ParseArgsConfig['options']>> = ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values'];

/**
 * A bench's options: `--help` prints `usage` and exits 0; an unknown or malformed option prints
 * the reason and `usage` and exits 2, instead of a stack trace.
 */
export function benchArgs<T extends NonNullable<ParseArgsConfig['options']>>(usage: string, options: T): BenchValues<T> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(usage.trim() + '\n');
    process.exit(0);
  }
  try {
    return parseArgs({ options, strict: true }).values as BenchValues<T>;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage.trim()}\n`);
    process.exit(2);
  }
}
