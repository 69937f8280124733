/** Commands registered from their own modules (reproduce, bench). */
import type { Command } from 'commander';

export const optionalCommands: ((program: Command) => void)[] = [];
