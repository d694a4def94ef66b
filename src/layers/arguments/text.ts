// The free-text detector: text may say anything (it is not SQL, not a command), so only characters
// that hide content from the people reading it are refused: controls and the Unicode tag block
// (invisible ASCII, used to smuggle instructions), except in the flag emoji sequences that need them.

import { finding, type Finding } from "./findings.ts";

// eslint-disable-next-line no-control-regex -- control characters are what this pattern looks for
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
/** A tag character not inside a flag sequence (🏴 U+1F3F4, tags, then the cancel tag U+E007F). */
const TAG = /[\u{e0000}-\u{e007f}]/u;
const FLAG_SEQUENCE = /\u{1f3f4}[\u{e0020}-\u{e007e}]{1,16}\u{e007f}/gu;

export function checkText(value: string): Finding | undefined {
  if (CONTROL.test(value)) return finding("text-control-character", "a control character");
  if (TAG.test(value) && TAG.test(value.replace(FLAG_SEQUENCE, "")))
    return finding("text-hidden-characters", "invisible Unicode tag characters");
  return undefined;
}
