// lutnn's conventions for usage errors on a commander tree: one line `lutnn: ... (see lutnn CMD --help)`, exit code 2.
import type { Command, CommanderError } from 'commander';

/** Exit code of usage errors (unknown option or command, bad or missing argument), as is the convention. */
export const EXIT_USAGE = 2;

/** "lutnn convert" for the convert subcommand. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * commander's error text (`error: unknown option '--jsn'\n(Did you mean --json?)`) as lutnn's one line:
 * `lutnn: unknown option '--jsn'; did you mean --json? (see lutnn convert --help)`. For a rejected option value, lutnn's
 * own message (which names the flag and the value) replaces commander's preamble.
 */
export function usageLine(commanderText: string, path: string): string {
  const lines = commanderText.trim().split('\n');
  let msg = lines[0].replace(/^error: /, '');
  const rest = lines.slice(1).join(' ');
  const invalid = /^option '(--?[\w-]+)[^']*' argument '.*' is invalid\. (.+)$/.exec(msg);
  if (invalid && invalid[2].includes(invalid[1])) msg = invalid[2];
  const suggestion = /\(Did you mean (.+?)\?\)/.exec(rest);
  return `lutnn: ${msg}${suggestion ? `; did you mean ${suggestion[1]}?` : ''} (see ${path} --help)\n`;
}

/** Exit code for a commander exit: 0 after --help and --version, EXIT_USAGE for usage errors (and a missing command). */
export function exitCodeOf(err: CommanderError): number {
  return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : EXIT_USAGE;
}

/** Applies the conventions to `root` and every subcommand (added ones do not inherit commander settings). */
export function applyUsageConventions(root: Command): Command {
  const apply = (cmd: Command): void => {
    cmd.showSuggestionAfterError(true);
    cmd.showHelpAfterError(false);
    cmd.configureOutput({ outputError: (str, write) => write(usageLine(str, commandPath(cmd))) });
    cmd.exitOverride((err) => process.exit(exitCodeOf(err)));
    cmd.commands.forEach(apply);
  };
  apply(root);
  return root;
}
