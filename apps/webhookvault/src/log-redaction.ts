/**
 * URL parts the logger blanks out (the first group of each pattern): capture tokens, and the query of capture
 * listings, whose `q`, `header` and `path` filters are often a piece of a captured payload.
 */
export const urlSecrets = [/^\/h\/([^/?]+)/, /^\/v1\/endpoints\/[^/?]+\/captures\?(.+)$/];
