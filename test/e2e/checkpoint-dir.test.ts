/** Checkpoints on the plain-directory fallback (no btrfs): copies, same behaviour, small data. */
import { suite } from "./CheckpointSuite.js"

suite({ name: "checkpoints on plain-directory storage", args: ["--storage", "dir"], storage: "dir", many: 50, dataMiB: 2 })
