/** The Sprites error body (reference/sprites-api.md §4.10): a machine code and a human message. */
import * as Schema from "effect/Schema"

export class ErrorBody extends Schema.Class<ErrorBody>("ErrorBody")({
  error: Schema.String,
  message: Schema.String
}) {}
