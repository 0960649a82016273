/**
 * Text that came from outside (a provider, an agent) and will be read by a model or a person:
 * control and bidirectional-formatting characters removed, so it cannot hide or reorder words.
 */

/** C0 and C1 controls (DEL included), the bidi embeddings, overrides and isolates, LRM/RLM and ALM. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters removed
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` without control and bidi characters; runs of whitespace (newlines too) become one space. */
export function stripUnsafe(text: string): string {
  return text
    .replace(/[\t\n\r\v\f\u2028\u2029]+/g, " ")
    .replace(UNSAFE, "")
    .replace(/ {2,}/g, " ")
    .trim();
}

/** `text` stripped and cut to `max` characters (an ellipsis marks the cut). */
export function cleanText(text: string, max: number): string {
  const s = stripUnsafe(text);
  return s.length > max ? `${s.slice(0, max - 1).trimEnd()}…` : s;
}

/** Longest connector label kept (the tools accept 200). */
export const MAX_LABEL = 200;

/** A label as stored: stripped and capped; empty when nothing printable is left. */
export function cleanLabel(label: string): string {
  return cleanText(label, MAX_LABEL);
}
