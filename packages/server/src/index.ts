/**
 * heyod, the local sandbox server, as a library: embed it with `Heyod.layer(options)`.
 *
 * @since 0.1.0
 */
export * as Heyod from "./Heyod.js"
export * as ServerConfig from "./ServerConfig.js"
