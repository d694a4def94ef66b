// The personal-data surface: generated card numbers (with the Luhn digit and a network's prefix),
// IBANs (with their mod-97 check digits), national identity numbers with their check digits (US SSN,
// UK NINO, French NIR, Spanish DNI and NIE, Italian codice fiscale, Brazilian CPF, Indian Aadhaar,
// Canadian SIN), telephone numbers and e-mail addresses, in CRM records, tickets, exports and
// messages; and a benign set of numbers that look like them (orders, tracking, ISBNs, timestamps,
// addresses, versions, amounts, numbers whose check digits fail).
import { luhnValid, verhoeffValid } from "../../../src/redaction/checksums.ts";
import { Random, type CorpusItem } from "./random.ts";

/**
 * The digit that makes `partial + digit` pass `valid`: the check digits come from the gateway's own
 * validators (one digit in ten passes each), so the corpus never carries a second copy of their tables.
 */
function checkDigit(partial: string, valid: (digits: string) => boolean): string {
  for (let d = 0; d < 10; d++) if (valid(`${partial}${d}`)) return String(d);
  throw new Error(`no check digit makes ${partial} valid`);
}

const luhnDigit = (partial: string) => checkDigit(partial, luhnValid);

const card = (r: Random): string => {
  const [prefix, length] = r.pick([
    ["4", 16],
    ["51", 16],
    ["55", 16],
    ["2221", 16],
    ["34", 15],
    ["37", 15],
    ["6011", 16],
    ["65", 16],
    ["3528", 16],
  ] as const);
  const partial = prefix + r.digits(length - prefix.length - 1);
  const digits = partial + luhnDigit(partial);
  const style = r.int(0, 2);
  if (length === 15)
    return style === 0 ? digits : `${digits.slice(0, 4)} ${digits.slice(4, 10)} ${digits.slice(10)}`;
  const sep = style === 0 ? "" : style === 1 ? " " : "-";
  return (digits.match(/.{4}/g) ?? []).join(sep);
};

const mod97 = (text: string) => {
  let remainder = 0;
  for (const ch of text) {
    const n = /[A-Z]/.test(ch) ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of n) remainder = (remainder * 10 + Number(d)) % 97;
  }
  return remainder;
};

const iban = (r: Random): string => {
  const [country, bban] = r.pick([
    ["DE", () => r.digits(18)],
    ["GB", () => `${r.pick(["NWBK", "BARC", "LOYD", "HBUK"])}${r.digits(14)}`],
    ["FR", () => `${r.digits(10)}${r.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 11)}${r.digits(2)}`],
    ["ES", () => r.digits(20)],
    ["NL", () => `${r.pick(["ABNA", "INGB", "RABO"])}${r.digits(10)}`],
    ["IT", () => `${r.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1)}${r.digits(10)}${r.digits(12)}`],
    ["CH", () => r.digits(17)],
  ] as const);
  const body = bban();
  const check = String(98 - mod97(`${body}${country}00`)).padStart(2, "0");
  const compact = `${country}${check}${body}`;
  return r.int(0, 1) === 0 ? compact : (compact.match(/.{1,4}/g) ?? []).join(" ");
};

const ssn = (r: Random) =>
  `${r.int(1, 665)}`.padStart(3, "0") +
  `-${String(r.int(1, 99)).padStart(2, "0")}-${String(r.int(1, 9999)).padStart(4, "0")}`;

const nino = (r: Random): string => {
  const prefix = `${r.from("ABCEGHJKLMNOPRSTWXYZ", 1)}${r.from("ABCEGHJKLMNPRSTWXYZ", 1)}`;
  // Prefixes never allocated: draw again.
  if (["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"].includes(prefix)) return nino(r);
  return `${prefix} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.from("ABCD", 1)}`;
};

const nir = (r: Random) => {
  const body = `${r.int(1, 2)}${r.digits(2)}${String(r.int(1, 12)).padStart(2, "0")}${r.int(10, 95)}${r.digits(3)}${r.digits(3)}`;
  const key = String(97 - Number(BigInt(body) % 97n)).padStart(2, "0");
  return `${body[0]} ${body.slice(1, 3)} ${body.slice(3, 5)} ${body.slice(5, 7)} ${body.slice(7, 10)} ${body.slice(10, 13)} ${key}`;
};

const dni = (r: Random) => {
  const letters = "TRWAGMYFPDXBNJZSQVHLCKE";
  if (r.int(0, 2) === 0) {
    const prefix = r.int(0, 2);
    const digits = r.digits(7);
    return `${"XYZ"[prefix]}${digits}${letters[Number(`${prefix}${digits}`) % 23]}`;
  }
  const digits = r.digits(8);
  return `${digits}${letters[Number(digits) % 23]}`;
};

const FISCAL_ODD = [
  1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];
const fiscalCode = (r: Random) => {
  const body = `${r.from("BCDFGHLMNPRSTVZ", 6)}${r.digits(2)}${r.from("ABCDEHLMPRST", 1)}${String(r.int(1, 71)).padStart(2, "0")}${r.from("ABCDEFGHILM", 1)}${r.digits(3)}`;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = body.charCodeAt(i);
    const v = c <= 57 ? c - 48 : c - 65;
    sum += i % 2 === 0 ? (FISCAL_ODD[v] ?? 0) : v;
  }
  return body + String.fromCharCode(65 + (sum % 26));
};

const cpf = (r: Random) => {
  const base = r.digits(9);
  const check = (digits: string) => {
    let sum = 0;
    for (let i = 0; i < digits.length; i++) sum += Number(digits[i]) * (digits.length + 1 - i);
    return String(((sum * 10) % 11) % 10);
  };
  const d1 = check(base);
  const d2 = check(base + d1);
  return `${base.slice(0, 3)}.${base.slice(3, 6)}.${base.slice(6)}-${d1}${d2}`;
};

const aadhaar = (r: Random) => {
  const base = `${r.int(2, 9)}${r.digits(10)}`;
  const digits = base + checkDigit(base, verhoeffValid);
  return `${digits.slice(0, 4)} ${digits.slice(4, 8)} ${digits.slice(8)}`;
};

const sin = (r: Random) => {
  const partial = `${r.pick(["1", "2", "3", "4", "5", "6", "7", "9"])}${r.digits(7)}`;
  const digits = partial + luhnDigit(partial);
  return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6)}`;
};

const phone = (r: Random) =>
  r.pick([
    () => `(${r.int(201, 989)}) ${r.int(201, 989)}-${r.digits(4)}`,
    () => `${r.int(201, 989)}-${r.int(201, 989)}-${r.digits(4)}`,
    () => `+1 ${r.int(201, 989)} ${r.int(201, 989)} ${r.digits(4)}`,
    () => `+44 20 ${r.digits(4)} ${r.digits(4)}`,
    () => `+44 7${r.digits(3)} ${r.digits(6)}`,
    () => `+33 6 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
    () => `+49 30 ${r.digits(8)}`,
    () => `+91 98${r.digits(3)} ${r.digits(5)}`,
    () => `+34 6${r.digits(2)} ${r.digits(3)} ${r.digits(3)}`,
    () => `020 ${r.digits(4)} ${r.digits(4)}`,
    () => `06 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
  ])();

const FIRST = ["maria", "james", "aiko", "oluwaseun", "lucas", "fatima", "chen", "sofia", "noah", "ingrid"];
const LAST = [
  "garcia",
  "okonkwo",
  "tanaka",
  "muller",
  "rossi",
  "silva",
  "nguyen",
  "kowalski",
  "dubois",
  "patel",
];
const email = (r: Random) =>
  `${r.pick(FIRST)}${r.pick([".", "_", ""])}${r.pick(LAST)}${r.int(0, 1) ? r.int(1, 99) : ""}@${r.pick(["gmail.com", "outlook.com", "acme-corp.com", "proton.me", "yahoo.co.uk", "uni-heidelberg.de", "fastmail.fm"])}`;

export const PII_GENERATORS: Readonly<Record<string, (r: Random) => string>> = {
  "card-number": card,
  iban,
  "us-ssn": ssn,
  "uk-nino": nino,
  "fr-nir": nir,
  "es-dni": dni,
  "it-fiscal-code": fiscalCode,
  "br-cpf": cpf,
  "in-aadhaar": aadhaar,
  "ca-sin": sin,
  phone,
  email,
};

const name = (r: Random) => `${r.pick(FIRST)} ${r.pick(LAST)}`.replace(/\b\w/g, (c) => c.toUpperCase());

const PII_CONTEXTS: readonly ((value: string, kind: string, r: Random) => string)[] = [
  (v, k, r) =>
    JSON.stringify({ id: r.int(1000, 99999), name: name(r), [k.replace(/-/g, "_")]: v, status: "active" }),
  (v, _k, r) =>
    `Ticket #${r.int(10000, 99999)} from ${name(r)}: I was charged twice, my details are ${v}. Please call back.`,
  (v, k, r) => `id,name,${k},created\n${r.int(1, 9999)},${name(r)},${v},2024-05-${r.int(10, 28)}`,
  (v, k, r) => `customer:\n  name: ${name(r)}\n  ${k.replace(/-/g, "_")}: "${v}"\n  tier: gold`,
  (v, _k, r) => `Hi team, forwarding the form ${name(r)} filled in: ${v} — can someone verify before Monday?`,
  (v, _k, r) => `| ${name(r)} | ${v} | ${r.pick(["Berlin", "Lyon", "Austin", "Pune", "Leeds"])} |`,
];

export function piiAttacks(seed = 10): CorpusItem[] {
  const r = new Random(seed);
  const items: CorpusItem[] = [];
  for (const [kind, generate] of Object.entries(PII_GENERATORS)) {
    for (let i = 0; i < 30; i++) {
      const value = generate(r);
      const context = PII_CONTEXTS[i % PII_CONTEXTS.length]!;
      items.push({ id: `pii/${kind}/${i}`, text: context(value, kind, r), secrets: [value] });
    }
  }
  return items;
}

const BENIGN_NUMBERS: readonly ((r: Random) => string)[] = [
  (r) => `Order #${r.digits(3)}-${r.digits(7)}-${r.digits(7)} has shipped.`,
  (r) =>
    `UPS tracking 1Z${r.upper(6)}${r.digits(10)}, FedEx ${r.digits(12)}, USPS 9400 1${r.digits(3)} ${r.digits(4)} ${r.digits(4)} ${r.digits(4)} ${r.digits(2)}`,
  (r) =>
    `ISBN 978-${r.int(0, 1)}-${r.digits(3)}-${r.digits(5)}-${r.int(0, 9)} (paperback), EAN ${r.pick(["40", "50", "87"])}${r.digits(11)}`,
  (r) =>
    `created_at=${1_700_000_000_000 + r.int(0, 99_999_999_999)} updated_at=${1_700_000_000 + r.int(0, 99_999_999)}`,
  (r) =>
    `${r.int(1, 254)}.${r.int(0, 254)}.${r.int(0, 254)}.${r.int(1, 254)} - - [14/May/2024:10:${r.int(10, 59)}:${r.int(10, 59)} +0000] "GET /api/v1/items HTTP/1.1" 200 ${r.int(100, 99999)}`,
  (r) =>
    `Total: ${r.int(1, 999)} ${String(r.int(0, 999)).padStart(3, "0")},${r.digits(2)} EUR (VAT ${r.int(5, 25)}%)`,
  (r) =>
    `Version ${r.int(1, 20)}.${r.int(0, 99)}.${r.int(0, 999)}.${r.int(1000, 99999)} built ${r.int(2019, 2025)}${String(r.int(1, 12)).padStart(2, "0")}${String(r.int(1, 28)).padStart(2, "0")}.${r.int(1, 9)}`,
  (r) =>
    `Location ${r.int(-89, 89)}.${r.digits(6)}, ${r.int(-179, 179)}.${r.digits(6)} (accuracy ${r.int(3, 40)} m)`,
  (r) => `Error 0x${r.hex(8).toUpperCase()} at offset ${r.digits(9)}; retry ${r.int(1, 5)}/5`,
  (r) =>
    `SKU ${r.upper(3)}-${r.digits(4)}-${r.digits(4)}-${r.digits(2)}, batch ${r.digits(10)}, qty ${r.int(1, 500)}`,
  (r) => `ZIP ${r.digits(5)}-${r.digits(4)}; PO Box ${r.int(100, 9999)}`,
  (r) => {
    // A card-shaped number whose Luhn digit is wrong.
    const partial = `4${r.digits(14)}`;
    const good = Number(luhnDigit(partial));
    return `Reference ${partial}${(good + r.int(1, 9)) % 10} for your records.`;
  },
  (r) =>
    `Account ref DE${String(r.int(10, 99))}${r.digits(18)} (draft, not validated)`.replace(
      /DE(\d\d)/,
      (_m, d: string) => `DE${d === "89" ? "88" : d}`,
    ),
  (r) =>
    `Meeting ${r.int(2024, 2025)}-0${r.int(1, 9)}-${r.int(10, 28)} ${r.int(10, 23)}:${r.int(10, 59)}-${r.int(10, 23)}:${r.int(10, 59)} in room ${r.int(100, 999)}`,
  (r) => `Tweet ${r.pick(["17", "18"])}${r.digits(17)} liked by user ${r.digits(9)}`,
  (r) =>
    `Call the office at (555) 01${r.digits(2)}-${r.digits(4)}`.replace(
      /\(555\) 01(\d\d)-\d{4}/,
      (_m, d: string) => `555-01${d}`,
    ),
  () => `Test card 4242 4242 4242 4242, exp 12/34, CVC 123 (Stripe test mode)`,
  (r) =>
    `Write to noreply@example.com or support@example.org; docs at https://example.net/contact?id=${r.digits(8)}`,
  (r) => `Serial numbers: ${Array.from({ length: 4 }, () => r.digits(r.int(6, 12))).join(", ")}`,
  (r) =>
    `Amounts: ${Array.from({ length: 5 }, () => `${r.int(1, 99)} ${r.digits(3)} ${r.digits(3)}`).join(" | ")}`,
  (r) =>
    `Port mapping ${r.int(1024, 9999)}:${r.int(1024, 9999)}, pid ${r.int(100, 99999)}, uptime ${r.digits(7)} s`,
  (r) => `INC${r.digits(7)} / CHG${r.digits(7)} / PRJ-${r.digits(5)}`,
  (r) => `Coordinates in EPSG:3857: ${r.digits(7)}.${r.digits(3)} ${r.digits(7)}.${r.digits(3)}`,
  (r) =>
    `Sort code ${r.digits(2)}-${r.digits(2)}-${r.digits(2)}, account ${r.digits(8)} (masked on statements)`,
  (r) => `git ${r.hex(40)} tagged v${r.int(1, 9)}.${r.int(0, 9)}.${r.int(0, 9)}`,
];

export function piiBenign(seed = 11): CorpusItem[] {
  const r = new Random(seed);
  const items: CorpusItem[] = [];
  const seen = new Set<string>();
  for (let round = 0; round < 16; round++) {
    BENIGN_NUMBERS.forEach((generate, i) => {
      const text = generate(r);
      if (seen.has(text)) return;
      seen.add(text);
      items.push({ id: `pii-benign/${i}/${round}`, text, secrets: [] });
    });
  }
  return items;
}
