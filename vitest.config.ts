import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["{apps,packages}/*/test/**/*.test.ts", "test/**/*.test.ts"],
    // Each file builds its own database and servers; files run in parallel, tests in a file in order.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})
