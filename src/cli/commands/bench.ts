import type { Command } from 'commander';
import { CliError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('bench')
    .description('(not yet implemented)')
    .allowUnknownOption(true)
    .argument('[args...]')
    .action(() => {
      throw new CliError('bench: not implemented yet');
    });
}
