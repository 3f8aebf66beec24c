/** Characters a line of output must not carry raw: C0 and C1 controls (newlines, terminal escapes), DEL, '"' and '\'. */
const NEEDS_QUOTES = /[\x00-\x1f\x7f-\x9f"\\]/;
const SPECIAL = /[\x00-\x1f\x7f-\x9f"\\]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '"': '\\"', '\\': '\\\\' };

/**
 * A release path as one line of human output shows it. A name may hold any character but '/' and
 * NUL: one with a newline would split a line of `diff` or `verify` in two, and one with an escape
 * sequence would reach the operator's terminal. Such a path is printed C-quoted in double quotes,
 * as git prints it; every other path as it is (UTF-8 included). JSON output needs none of this.
 */
export function quotePath(path: string): string {
  if (!NEEDS_QUOTES.test(path)) return path;
  return `"${path.replace(SPECIAL, (c) => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
}
