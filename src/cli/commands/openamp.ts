import type { Command } from 'commander';
import { CliError } from '../errors.js';

export function register(program: Command): void {
  program
    .command('openamp')
    .description('(not yet implemented)')
    .allowUnknownOption(true)
    .argument('[args...]')
    .action(() => {
      throw new CliError('openamp: not implemented yet');
    });
}
