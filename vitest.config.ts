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
          // as heyod runs: Buffers are freed with their wrappers, and a small young generation
          // collects those often, so a test streaming 1 GiB keeps under its 256 MB peak
          poolOptions: { forks: { execArgv: ["--max-semi-space-size=4"] } },
          testTimeout: 60_000,
          hookTimeout: 120_000
        }
      }
    ]
  }
})
