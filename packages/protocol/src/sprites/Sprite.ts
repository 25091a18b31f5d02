/** The Sprite object (reference/sprites-api.md §2.1), as heyod shows a sandbox. */
import * as Schema from "effect/Schema"

/** `running` = active; `warm` = suspended; `cold` = stopped (§4.1). */
export const SpriteStatus = Schema.Literal("cold", "warm", "running")
export type SpriteStatus = typeof SpriteStatus.Type

/**
 * `url_settings` (§2.1, §4 UrlAuth): `auth` `sprite` (the URL needs the org token) or `public`.
 * On heyod it is the public flag of the bound URL of port 8080 (the sprite URL's default port).
 */
export class UrlSettings extends Schema.Class<UrlSettings>("UrlSettings")({
  auth: Schema.optional(Schema.Literal("sprite", "public")),
  private_access: Schema.optional(Schema.Literal("admins", "org_users"))
}) {}

/** `PUT /v1/sprites/{name}`: a partial update, omitted fields unchanged (§2.5). */
export class SpriteUpdateBody extends Schema.Class<SpriteUpdateBody>("SpriteUpdateBody")({
  url_settings: Schema.optional(UrlSettings),
  labels: Schema.optional(Schema.Array(Schema.String)),
  clear_labels: Schema.optional(Schema.Boolean)
}) {}

export class Sprite extends Schema.Class<Sprite>("Sprite")({
  id: Schema.String,
  name: Schema.String,
  organization: Schema.String,
  status: SpriteStatus,
  url: Schema.optional(Schema.String),
  url_settings: Schema.optional(UrlSettings),
  created_at: Schema.String,
  updated_at: Schema.String,
  /** Clients treat a missing list as `[]`; heyod always sends one. */
  labels: Schema.Array(Schema.String)
}) {}
