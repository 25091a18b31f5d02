/** Checkpoints on btrfs (the default store when btrfs-progs is installed): snapshots, not copies. */
import { suite } from "./CheckpointSuite.js"

suite({ name: "checkpoints on btrfs", args: ["--storage", "btrfs"], storage: "btrfs", many: 50, dataMiB: 64 })
