/** The Sprite object (reference/sprites-api.md §2.1), as heyod shows a sandbox. */
import * as Schema from "effect/Schema"

/** `running` = active; `warm` = suspended; `cold` = stopped (§4.1). */
export const SpriteStatus = Schema.Literal("cold", "warm", "running")
export type SpriteStatus = typeof SpriteStatus.Type

export class Sprite extends Schema.Class<Sprite>("Sprite")({
  id: Schema.String,
  name: Schema.String,
  organization: Schema.String,
  status: SpriteStatus,
  url: Schema.optional(Schema.String),
  created_at: Schema.String,
  updated_at: Schema.String,
  /** Clients treat a missing list as `[]`; heyod always sends one. */
  labels: Schema.Array(Schema.String)
}) {}
