// Check digits of the numbers the scanner looks for: a match counts only when its checksum holds,
// which is what keeps order numbers, timestamps and hashes from passing for cards or identity numbers.

/** Only the digits of a match, in order. */
export function digitsOf(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) out += text[i];
  }
  return out;
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** A payment card number: a length and issuer prefix a network uses, and the Luhn check. */
export function cardValid(digits: string): boolean {
  const n = digits.length;
  if (n < 13 || n > 19) return false;
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  const issued =
    // Visa's 13-digit numbers are no longer issued; an EAN-13 barcode often passes for one.
    (digits[0] === "4" && (n === 16 || n === 19)) ||
    (two >= 51 && two <= 55 && n === 16) ||
    (four >= 2221 && four <= 2720 && n === 16) ||
    ((two === 34 || two === 37) && n === 15) ||
    (digits[0] === "6" && n >= 16) ||
    (digits[0] === "3" && two !== 34 && two !== 37 && n >= 14);
  return issued && luhnValid(digits);
}

/** ISO 13616: the country code and check digits move to the end; the number mod 97 is 1. */
export function ibanValid(text: string): boolean {
  const iban = text.replace(/ /g, "");
  if (iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 65 && c <= 90) remainder = (remainder * 100 + (c - 55)) % 97;
    else if (c >= 48 && c <= 57) remainder = (remainder * 10 + (c - 48)) % 97;
    else return false;
  }
  return remainder === 1;
}

const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 7, 6, 8, 0],
  [4, 2, 8, 6, 5, 7, 0, 3, 9, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

export function verhoeffValid(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    c = VERHOEFF_D[c]?.[VERHOEFF_P[i % 8]?.[d] ?? 0] ?? 0;
  }
  return c === 0;
}

/** US social security number: no area 000, 666 or 9xx, no group 00, no serial 0000. */
export function ssnValid(digits: string): boolean {
  const area = digits.slice(0, 3);
  return (
    digits.length === 9 &&
    area !== "000" &&
    area !== "666" &&
    area[0] !== "9" &&
    digits.slice(3, 5) !== "00" &&
    digits.slice(5) !== "0000"
  );
}

/** Canadian social insurance number: nine digits, Luhn, not starting with 0 or 8. */
export function sinValid(digits: string): boolean {
  return digits.length === 9 && digits[0] !== "0" && digits[0] !== "8" && luhnValid(digits);
}

/** Indian Aadhaar: twelve digits, not starting with 0 or 1, Verhoeff check digit. */
export function aadhaarValid(digits: string): boolean {
  return digits.length === 12 && digits[0] !== "0" && digits[0] !== "1" && verhoeffValid(digits);
}

/** Brazilian CPF: eleven digits, two mod-11 check digits, not all the same digit. */
export function cpfValid(digits: string): boolean {
  if (digits.length !== 11 || /^(\d)\1{10}$/.test(digits)) return false;
  const check = (length: number): number => {
    let sum = 0;
    for (let i = 0; i < length; i++) sum += (digits.charCodeAt(i) - 48) * (length + 1 - i);
    return ((sum * 10) % 11) % 10;
  };
  return check(9) === digits.charCodeAt(9) - 48 && check(10) === digits.charCodeAt(10) - 48;
}

/** French NIR (sécurité sociale): sex 1/2, a month, and a key of 97 minus the first 13 digits mod 97. */
export function nirValid(digits: string): boolean {
  if (digits.length !== 15 || (digits[0] !== "1" && digits[0] !== "2")) return false;
  const month = Number(digits.slice(3, 5));
  if (!((month >= 1 && month <= 12) || month >= 20)) return false;
  const body = BigInt(digits.slice(0, 13));
  return 97n - (body % 97n) === BigInt(digits.slice(13));
}

const DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE";

/** Spanish DNI (eight digits) or NIE (X, Y or Z and seven digits) with its check letter. */
export function dniValid(text: string): boolean {
  const upper = text.toUpperCase();
  const nie = "XYZ".indexOf(upper[0] ?? "");
  const number = nie >= 0 ? String(nie) + upper.slice(1, 8) : upper.slice(0, 8);
  if (!/^\d{8}$/.test(number)) return false;
  return DNI_LETTERS[Number(number) % 23] === upper[upper.length - 1];
}

/** UK National Insurance number: allocated prefixes only, suffix A to D. */
export function ninoValid(text: string): boolean {
  const nino = text.replace(/ /g, "").toUpperCase();
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(nino)) return false;
  return !["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"].includes(nino.slice(0, 2));
}

const FISCAL_ODD = [
  1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/** Italian codice fiscale: sixteen characters, the last a check letter over the first fifteen. */
export function fiscalCodeValid(text: string): boolean {
  const code = text.toUpperCase();
  if (code.length !== 16) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = code.charCodeAt(i);
    const value = c >= 48 && c <= 57 ? c - 48 : c - 65;
    if (value < 0 || value > 25) return false;
    // Positions are counted from 1: the odd ones use the table.
    sum += i % 2 === 0 ? (FISCAL_ODD[value] ?? 0) : value;
  }
  return String.fromCharCode(65 + (sum % 26)) === code[15];
}
