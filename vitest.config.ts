import { defineConfig } from "vitest/config"

// Two projects: unit tests run in parallel; end-to-end files each start a real heyod and run one
// at a time (2 cores, real sandboxes).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/test/**/*.test.ts", "examples/**/*.test.ts"],
          setupFiles: ["./vitest.setup.ts"]
        }
      },
      {
        test: {
          name: "e2e",
          include: ["test/**/*.test.ts"],
          setupFiles: ["./vitest.setup.ts"],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000
        }
      }
    ]
  }
})
