/**
 * Whether node's own command line (`execArgv`) gives V8 flag `name` (written with '-'; V8 takes
 * '_' for any of them as well). A flag serve sets for itself yields to one given there.
 */
export function v8FlagGiven(execArgv: readonly string[], name: string): boolean {
  const given = new RegExp(`^--${name.replace(/-/g, '[-_]')}(=|$)`);
  return execArgv.some((a) => given.test(a));
}
