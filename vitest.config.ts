// Vitest configuration: unit tests run in parallel; integration and security tests drive the real CLI one file at a time.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    globalSetup: ['test/helpers/globalSetup.ts'],
    fileParallelism: false,
    reporters: ['default'],
    // clipanion's ES build imports a directory (lib/platform), which Node's loader refuses: let Vite resolve it.
    server: { deps: { inline: ['clipanion'] } },
  },
});
