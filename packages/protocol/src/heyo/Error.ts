/** The Heyo error body (reference/heyo-api.md §2.9, §6): `{"message": "..."}`. */
import * as Schema from "effect/Schema"

export class ErrorBody extends Schema.Class<ErrorBody>("ErrorBody")({
  message: Schema.String
}) {}

/** What clients accept: servers send `message`, some send `error`. */
export const ErrorBodyTolerant = Schema.Struct({
  message: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String)
})
