/**
 * Testing agent code without a server: `Testing.layer` is an in-memory Heyo (sandboxes, files,
 * and a command handler you write), so the agent below runs unchanged against it.
 *
 * Run: pnpm exec vitest run --project unit examples
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Sandbox, Testing } from "@heyo-effect/sdk"

/** The agent under test: grades a solution in a throwaway sandbox. */
export const grade = (solution: string) =>
  Effect.gen(function*() {
    const sandbox = yield* Sandbox.createScoped({ name: "grader", ttl: "10 minutes" })
    yield* sandbox.files.write("solution.py", solution)
    const run = yield* sandbox.commands.run("python -m pytest -q", { timeout: "2 minutes" })
    return { passed: run.exitCode === 0, log: run.output }
  }).pipe(
    Effect.scoped,
    // Infrastructure trouble is not the student's fault: report it, do not fail the grading.
    Effect.catchTag("SandboxFailed", (e) => Effect.succeed({ passed: false, log: `not graded: ${e.reason}` }))
  )

/** A pretend pytest: passes when solution.py adds its arguments. */
const pytest: Testing.CommandHandler = (_sandboxId, command, { files }) => {
  if (command !== "python -m pytest -q") return { stderr: `unexpected command: ${command}\n`, exitCode: 127 }
  return files.readText("solution.py")?.includes("return a + b")
    ? { stdout: "1 passed in 0.01s\n" }
    : { stdout: "F\nassert add(1, 2) == 3\n1 failed in 0.02s\n", exitCode: 1 }
}

describe("grade", () => {
  it.effect("passes a correct solution and leaves no sandbox behind", () =>
    Effect.gen(function*() {
      const report = yield* grade("def add(a, b):\n    return a + b\n")
      assert.deepStrictEqual(report, { passed: true, log: "1 passed in 0.01s\n" })

      const mock = yield* Testing.Mock
      assert.deepStrictEqual(yield* mock.sandboxes, [])
      assert.deepStrictEqual((yield* mock.commands).map((c) => c.command), ["python -m pytest -q"])
    }).pipe(Effect.provide(Testing.layer({ exec: pytest }))))

  it.effect("fails a wrong solution with the test log", () =>
    Effect.gen(function*() {
      const report = yield* grade("def add(a, b):\n    return a - b\n")
      assert.isFalse(report.passed)
      assert.include(report.log, "1 failed")
    }).pipe(Effect.provide(Testing.layer({ exec: pytest }))))

  it.effect("reports a sandbox that fails to boot instead of crashing", () =>
    Effect.gen(function*() {
      const report = yield* grade("anything")
      assert.deepStrictEqual(report, { passed: false, log: "not graded: region at capacity" })
    }).pipe(Effect.provide(Testing.layer({
      exec: pytest,
      onCreate: () => ({ status: "failed", errorMessage: "region at capacity" })
    }))))
})
