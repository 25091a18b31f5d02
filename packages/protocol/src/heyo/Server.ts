/** `GET /health` and `GET /capabilities` (reference/heyo-api.md §2.5). */
import * as Schema from "effect/Schema"

export class Health extends Schema.Class<Health>("Health")({
  status: Schema.String
}) {}

/**
 * The Heyo keys are camelCase on the wire. `features` is heyod's own addition: the extensions a
 * server offers beyond the Heyo cloud routes; the cloud sends none.
 */
export class Capabilities extends Schema.Class<Capabilities>("Capabilities")({
  targetOs: Schema.optionalWith(Schema.String, { default: () => "" }),
  supportedDrivers: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  archiveSupportedDrivers: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  defaultDriver: Schema.optionalWith(Schema.String, { default: () => "" }),
  features: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] })
}) {}
