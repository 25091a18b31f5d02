/** A stored sandbox as the Sprites dialect shows it (reference/sprites-api.md §2.1). */
import { SpritesSprite } from "@heyo-effect/protocol"
import type { SandboxRecord } from "../../state/SandboxRecord.js"

/**
 * heyod has no suspended state: a running sandbox is `running`, every other one (stopped,
 * failed, provisioning) is `cold`, which clients read as "not up".
 */
export const spriteOf = (record: SandboxRecord): SpritesSprite.Sprite =>
  new SpritesSprite.Sprite({
    id: record.id,
    name: record.name,
    organization: "local",
    status: record.status === "running" ? "running" : "cold",
    created_at: record.createdAt,
    updated_at: record.statusChangedAt,
    labels: []
  })
