/** Runs in every test file (vitest setupFiles): scratch directories go when the file ends. */
import { afterAll } from 'vitest';
import { removeScratchDirs } from './scratch.js';

afterAll(() => removeScratchDirs());
