/**
 * The instance id: 8 hex characters stored in `<dataDir>/instance-id`. Every host resource heyod
 * makes (netns, cgroups, the run directory) carries it, so several heyod instances on one machine
 * (a developer's beside a test's) only ever clean up their own.
 */
import * as Effect from "effect/Effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { RuntimeError } from "./Runtime.js"

const pattern = /^[0-9a-f]{8}$/

export const readOrCreate = (dataDir: string) =>
  Effect.try({
    try: () => {
      const file = path.join(dataDir, "instance-id")
      fs.mkdirSync(dataDir, { recursive: true })
      let existing: string | undefined
      try {
        existing = fs.readFileSync(file, "utf8").trim()
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
      }
      if (existing !== undefined) {
        // A made-up id could name another instance's resources, and cleanup would then touch them.
        if (!pattern.test(existing)) throw new Error(`${file} holds "${existing}", not 8 hex characters: fix or delete it`)
        return existing
      }
      const id = crypto.randomBytes(4).toString("hex")
      // Write-then-rename so a crash never leaves an empty id behind.
      const tmp = `${file}.${process.pid}.tmp`
      fs.writeFileSync(tmp, `${id}\n`)
      fs.renameSync(tmp, file)
      return id
    },
    catch: (error) =>
      new RuntimeError({ operation: "instance-id", message: error instanceof Error ? error.message : String(error) })
  })
